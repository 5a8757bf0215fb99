"""Run it yourself: every page's generated script runs with plain `python` and prints what the page shows.

The page's outputs are read from the built HTML (hooks/scripts.py wraps each executed block and marks
its text output), put in the script's order (sessions in order of first appearance), and compared line by
line with the script's stdout, measured durations masked. An html block's output is the HTML it printed;
figures (`<figure class="dlref-figure">`) are compared apart, as whole SVG documents, so the script draws
exactly the page's plots.
"""

import difflib
import html
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.test_site import DURATION

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.site

_RUN_IT_LINK = re.compile(r'<p class="dlref-run-it">.*?</p>', re.S)
_HREF = re.compile(r'href="([^"]+)"')
_WRAPPER = re.compile(r'<div class="dlref-exec" data-block="\d+" data-session="([^"]*)">')
_OUTPUT = re.compile(r'<div class="[^"]*\bdlref-output">.*?<code>(.*?)</code>', re.S)
_FIGURE = re.compile(r'<figure class="dlref-figure">.*?</figure>', re.S)
_SOURCE = re.compile(r'<div class="[^"]*\bhighlight\b[^"]*"><pre>.*?</pre></div>', re.S)
_DIV_TAG = re.compile(r"<(/?)div\b[^>]*>")


def _lines(text: str) -> list[str]:
    """Non-blank lines, trailing spaces removed, durations masked with the padding around them (a
    right-aligned "9.1 ms" and "12.3 ms" differ in width): what must match between the two."""
    masked = re.sub(r"[ \t]*<duration>[ \t]*", " <duration> ", DURATION.sub("<duration>", text))
    return [line.rstrip() for line in masked.splitlines() if line.strip()]


def _wrapper_inner(page_html: str, start: int) -> str:
    """The HTML inside the `<div class="dlref-exec">` whose opening tag ends at `start`."""
    depth = 1
    for tag in _DIV_TAG.finditer(page_html, start):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return page_html[start:tag.start()]
    raise AssertionError("unclosed dlref-exec wrapper")


def _page_outputs(page_html: str) -> tuple[str, list[str]]:
    """What the page shows each block printed, in the order the script runs them: the text outputs
    (for html blocks, the HTML they printed, figures apart) and the figures."""
    by_session: dict[str, list[tuple[str, list[str]]]] = {}
    for wrapper in _WRAPPER.finditer(page_html):
        inner = _wrapper_inner(page_html, wrapper.end())
        output = _OUTPUT.search(inner)
        if output:
            text = html.unescape(re.sub(r"<[^>]+>", "", output.group(1)))
        else:  # an html block: what is left once its source code block and its figures are taken out
            text = _FIGURE.sub("", _SOURCE.sub("", inner))
        by_session.setdefault(html.unescape(wrapper.group(1)), []).append((text, _FIGURE.findall(inner)))
    blocks = [block for session in by_session.values() for block in session]
    return "\n".join(text for text, _ in blocks), [figure for _, figures in blocks for figure in figures]


def _scripts(site: Path) -> list[tuple[Path, Path]]:
    """(page, script) for every page that links a generated script."""
    found = []
    for page in sorted(site.rglob("*.html")):
        link = _RUN_IT_LINK.search(page.read_text(encoding="utf-8"))
        if link:
            scripts = [href for href in _HREF.findall(link.group(0)) if href.endswith(".py")]
            found += [(page, (page.parent / href).resolve()) for href in scripts]
    return found


def test_every_page_with_executed_code_links_a_script_and_a_notebook(built_site):
    site, _ = built_site
    pages_with_code = {page for page in site.rglob("*.html") if "dlref-exec" in page.read_text(encoding="utf-8")}
    linked = {page for page, _ in _scripts(site)}
    assert "activations/index.html" in {str(page.relative_to(site)) for page in linked}
    assert pages_with_code == linked
    for _, script in _scripts(site):
        notebook = json.loads(script.with_suffix(".ipynb").read_text(encoding="utf-8"))
        assert (notebook["nbformat"], notebook["nbformat_minor"]) == (4, 5)
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
        assert len({cell["id"] for cell in notebook["cells"]}) == len(notebook["cells"])
        script_text = script.read_text(encoding="utf-8")
        assert all("".join(cell["source"]) in script_text for cell in code), script


def test_every_generated_script_prints_what_its_page_shows(built_site, tmp_path):
    site, _ = built_site
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    failures = []
    for page, script in _scripts(site):
        run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600)
        name = script.relative_to(site)
        if run.returncode != 0:
            failures.append(f"{name} exited with {run.returncode}:\n{run.stderr[-2000:]}")
            continue
        expected_text, expected_figures = _page_outputs(page.read_text(encoding="utf-8"))
        printed_figures = _FIGURE.findall(run.stdout)
        difference = list(difflib.unified_diff(_lines(expected_text), _lines(_FIGURE.sub("", run.stdout)),
                                               "page", "script", n=0, lineterm=""))
        if difference:
            failures.append(f"{name} printed text that differs from its page:\n" + "\n".join(difference[:40]))
        if printed_figures != expected_figures:
            failures.append(f"{name} drew {len(printed_figures)} figures; its page shows "
                            f"{len(expected_figures)}, and they differ")
    assert _scripts(site), "no generated scripts found"
    assert failures == [], "\n\n".join(failures)


def test_a_script_groups_blocks_by_session_and_includes_snippets(mkdocs_build, tmp_path):
    """Sessions in order of first appearance, blocks in page order, `--8<--` snippets included."""
    (tmp_path / "docs" / "snippets").mkdir(parents=True)
    (tmp_path / "docs" / "snippets" / "part.py").write_text('print("from the snippet", x)\n')
    fence = '```python exec="1" source="above" result="text" session="{}"\n{}\n```\n'
    (tmp_path / "docs" / "page.md").write_text(
        "# Page\n\n## First question?\n\n" + fence.format("a", 'x = 1\nprint("a1")')
        + "\n## Second question?\n\n" + fence.format("b", 'print("b1")')
        + "\nBack to the first session:\n\n" + fence.format("a", '--8<-- "part.py"'))
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent(f"""\
        site_name: tiny
        strict: true
        nav: [page.md]
        markdown_extensions:
          - pymdownx.superfences
          - pymdownx.snippets: {{base_path: [docs/snippets], check_paths: true}}
        plugins: [markdown-exec]
        hooks: ["{ROOT / 'hooks' / 'scripts.py'}"]
        """))
    assert mkdocs_build(config, tmp_path / "site").returncode == 0
    page = (tmp_path / "site" / "page" / "index.html").read_text()
    assert page.count("dlref-output") == 3 and 'href="page.py"' in page and 'href="page.ipynb"' in page
    script = (tmp_path / "site" / "page" / "page.py").read_text()
    order = ["# %% First question?", 'print("a1")', 'print("from the snippet", x)', "# %% Second question?",
             'print("b1")']
    assert [script.index(text) for text in order] == sorted(script.index(text) for text in order)
    run = subprocess.run([sys.executable, "page.py"], cwd=tmp_path / "site" / "page", capture_output=True,
                         text=True)
    assert run.stdout == "a1\nfrom the snippet 1\nb1\n"
    cells = json.loads((tmp_path / "site" / "page" / "page.ipynb").read_text())["cells"]
    assert ["".join(cell["source"]) for cell in cells[1:]] == [
        "## First question?", 'x = 1\nprint("a1")', 'print("from the snippet", x)', "## Second question?",
        'print("b1")']
