"""axe-core (vendored from its npm package, injected offline) finds no serious or critical violation on
any page in the light scheme (every rule), nor in the dark one (the colour rules, on a page of each
folder; see `sitebrowser.check_every_page`)."""

import pytest

pytestmark = pytest.mark.site


def test_no_page_has_a_serious_or_critical_accessibility_violation(page_problems):
    print(f"axe-core on {page_problems.pages} pages took {page_problems.axe_seconds:.1f} s")
    assert page_problems.axe == [], "\n".join(page_problems.axe)
