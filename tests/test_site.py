"""The strict site build: it runs, it shows executed output, it is reproducible, and it cannot lie."""

import filecmp
import json
import os
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dlref import activations as A

ROOT = Path(__file__).resolve().parents[1]
HOOKS = [str(ROOT / "hooks" / name) for name in ("build_guard.py", "parallel_exec.py")]

pytestmark = pytest.mark.site


def test_strict_build_succeeds_and_reports_the_slowest_pages(built_site):
    _, result = built_site
    match = re.search(r"dlref: rendered (\d+) pages \([\d.]+ s in all, on (\d+) process\(es\)\); slowest: (.+)",
                      result.stderr)
    assert match, result.stderr
    assert int(match.group(1)) >= 3
    assert int(match.group(2)) == min(os.cpu_count(), 4)
    assert re.search(r"activations\.md [\d.]+ s", match.group(3))


def test_activations_page_shows_output_that_only_running_the_code_produces(built_site):
    site, _ = built_site
    html = (site / "activations" / "index.html").read_text()
    z = np.array([0.0, 2.0, 5.0, 10.0])
    row = "sigmoid      " + "".join(f"{v:>10.2e}" for v in A.sigmoid_backward(np.ones_like(z), z))
    assert row in html
    grid = np.linspace(-20, 20, 400001)
    slope = A.sigmoid_backward(np.ones_like(grid), grid).max()
    assert f"largest sigmoid slope on [-20, 20]: {slope:.6f}" in html
    assert html.count('<figure class="dlref-figure"><svg') >= 2


def test_every_public_module_has_an_api_page_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text()
    modules = sorted(p.stem for p in (ROOT / "dlref").glob("[!_]*.py"))
    assert modules, "no public modules found"
    for name in modules:
        page = ROOT / "docs" / "reference" / f"{name}.md"
        assert page.exists(), f"missing API page {page}"
        assert f"::: dlref.{name}" in page.read_text()
        assert f"reference/{name}.md" in config


def test_no_page_loads_anything_from_another_host(built_site):
    site, _ = built_site
    external = re.compile(r"<(?:script|img|iframe|source|audio|video)[^>]*\ssrc=\"(?:https?:)?//|"
                          r"<link[^>]*\shref=\"(?:https?:)?//[^\"]*\"[^>]*rel=\"(?:stylesheet|preload|icon)|"
                          r"<link[^>]*rel=\"(?:stylesheet|preload|icon)\"[^>]*\shref=\"(?:https?:)?//|"
                          r"url\((?:['\"])?(?:https?:)?//")
    pages = list(site.rglob("*.html")) + list(site.rglob("*.css"))
    assert len(pages) > 5
    offenders = [str(p.relative_to(site)) for p in pages if external.search(p.read_text(errors="ignore"))]
    assert offenders == []


# Measured durations ("12.3 ms", "0.41 s"), with the padding before them, are the one output allowed
# to differ between builds.
DURATION = re.compile(r" *\b\d+(?:\.\d+)?(?:e[-+]?\d+)? ?(?:ms|s|µs)\b")


def test_two_builds_of_the_same_tree_are_identical_but_for_timings(built_site, mkdocs_build, tmp_path):
    """The second build is serial: executing the pages on several processes changes nothing."""
    first, _ = built_site
    second = tmp_path / "again"
    assert mkdocs_build(ROOT / "mkdocs.yml", second, processes=1).returncode == 0
    compared = 0
    for path in first.rglob("*"):
        if path.is_file():
            twin = second / path.relative_to(first)
            assert twin.exists(), f"{path.relative_to(first)} missing from the second build"
            if not filecmp.cmp(path, twin, shallow=False):
                assert path.suffix in {".html", ".json"}, f"{path.relative_to(first)} differs"
                a, b = (DURATION.sub("<duration>", p.read_text()) for p in (path, twin))
                assert a == b, f"{path.relative_to(first)} differs beyond measured durations"
            compared += 1
    assert compared > 20


def _tiny_project(tmp_path: Path, broken_block: str) -> Path:
    """Two pages; the first takes a second, so with two processes the worker executes the second."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(
        "# Home\n\n```python exec=\"1\"\nimport time\ntime.sleep(1)\nprint(1 + 1)\n```\n")
    (tmp_path / "docs" / "broken.md").write_text(broken_block)
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent(f"""\
        site_name: tiny
        strict: true
        nav: [index.md, broken.md]
        markdown_extensions: [pymdownx.superfences]
        plugins: [markdown-exec]
        hooks: {json.dumps(HOOKS)}
        """))
    return config


@pytest.mark.parametrize("processes", [1, 2])
def test_a_block_that_raises_fails_the_quiet_build_and_names_page_and_line(mkdocs_build, tmp_path, processes):
    page = "# Broken\n\nSome prose.\n\n```python exec=\"1\"\nx = 1\ny = x / 0\n```\n"
    result = mkdocs_build(_tiny_project(tmp_path, page), tmp_path / "site", processes)
    assert result.returncode != 0
    # The fence opens on line 5; the block's second line, page line 7, raises.
    assert "docs/broken.md:7: code block failed: ZeroDivisionError: division by zero" in result.stderr


@pytest.mark.parametrize("processes", [1, 2])
def test_the_same_tiny_project_builds_when_the_block_is_fixed(mkdocs_build, tmp_path, processes):
    page = "# Fixed\n\n```python exec=\"1\"\nx = 1\nprint(x / 2)\n```\n"
    result = mkdocs_build(_tiny_project(tmp_path, page), tmp_path / "site", processes)
    assert result.returncode == 0, result.stderr
    assert "<p>0.5</p>" in (tmp_path / "site" / "broken" / "index.html").read_text()
