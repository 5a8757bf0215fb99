"""hooks/parallel_exec.py: pages' code runs on several processes, and each page shows its own output."""

import json
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOKS = [str(ROOT / "hooks" / name) for name in ("build_guard.py", "parallel_exec.py")]

pytestmark = pytest.mark.site

# Each page sleeps, so that the main process and a worker both get pages, then prints which page it is
# and which process ran it; a second block in the same session reads the first block's variable.
PAGE = textwrap.dedent("""\
    # Page {n}

    ```python exec="1" session="page-{n}"
    import os
    import time

    time.sleep(0.5)
    ran_in = os.getpid()
    print(f"page {n} ran in process {{ran_in}}")
    ```

    ```python exec="1" session="page-{n}"
    print(f"page {n} again in process {{ran_in}}")
    ```
    """)


def _project(tmp_path: Path, pages: dict[str, str]) -> Path:
    (tmp_path / "docs").mkdir()
    for name, text in pages.items():
        (tmp_path / "docs" / name).write_text(text)
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent(f"""\
        site_name: tiny
        strict: true
        nav: {json.dumps(list(pages))}
        markdown_extensions: [pymdownx.superfences]
        plugins: [markdown-exec]
        hooks: {json.dumps(HOOKS)}
        """))
    return config


def _processes_per_page(site: Path, count: int) -> dict[int, str]:
    ran_in = {}
    for n in range(count):
        html = (site / f"page{n}" / "index.html").read_text()
        first = re.search(rf"page {n} ran in process (\d+)", html)
        again = re.search(rf"page {n} again in process (\d+)", html)
        assert first and again, f"page {n} does not show its own output"
        assert first.group(1) == again.group(1)  # the session's state carried over to the second block
        assert not re.search(rf"page (?!{n}\b)\d+ ", html), f"page {n} shows another page's output"
        ran_in[n] = first.group(1)
    return ran_in


@pytest.mark.parametrize("processes", [1, 2])
def test_pages_run_on_as_many_processes_as_asked_and_show_their_own_output(mkdocs_build, tmp_path, processes):
    config = _project(tmp_path, {f"page{n}.md": PAGE.format(n=n) for n in range(4)})
    result = mkdocs_build(config, tmp_path / "site", processes)
    assert result.returncode == 0, result.stderr
    ran_in = _processes_per_page(tmp_path / "site", 4)
    assert len(set(ran_in.values())) == processes, ran_in
    assert f"on {processes} process(es)" in result.stderr


def test_a_session_shared_by_two_pages_fails_the_build(mkdocs_build, tmp_path):
    shared = '# {n}\n\n```python exec="1" session="shared"\nprint("hello")\n```\n'
    config = _project(tmp_path, {"first.md": shared.format(n="First"), "second.md": shared.format(n="Second")})
    result = mkdocs_build(config, tmp_path / "site", 2)
    assert result.returncode != 0
    assert "session 'shared' is also used on docs/first.md" in result.stderr


def test_a_bad_process_count_is_refused_with_a_clear_message(mkdocs_build, tmp_path):
    config = _project(tmp_path, {f"page{n}.md": PAGE.format(n=n) for n in range(2)})
    result = mkdocs_build(config, tmp_path / "site", "two")
    assert result.returncode != 0
    assert "DLREF_BUILD_PROCESSES must be a positive integer; got 'two'" in result.stderr
