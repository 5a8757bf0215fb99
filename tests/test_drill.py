"""Drill mode (hooks/drill.py): every question of the site on one page, tagged, folded, linked."""

import html
import re
import textwrap
from pathlib import Path
from urllib.parse import urljoin

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.site

_QUESTION = re.compile(r'<h2 (?=[^>]*data-difficulty="(\w+)")[^>]*\bid="([^"]+)"[^>]*>.*?</h2>\s*'
                       r'<p class="dlref-difficulty">Difficulty: <span data-difficulty="(\w+)">', re.S)
_DRILL_ENTRY = re.compile(r'<h3 id="[^"]*"><a href="([^"]+)">.*?</h3>\s*'
                          r'<p class="dlref-difficulty">Difficulty: <span data-difficulty="(\w+)">\w+</span></p>\s*'
                          r'<details class="abstract">\s*<summary>Short answer</summary>(.*?)</details>', re.S)
_SHORT_ANSWER = re.compile(r'<p class="admonition-title">Short answer</p>(.*?)</div>', re.S)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _url(site: Path, page: Path) -> str:
    """The page's URL path relative to the site root, as links name it (`activations/`)."""
    return page.relative_to(site).as_posix().removesuffix("index.html")


def test_the_drill_page_lists_every_question_in_site_order_with_its_tag_and_short_answer(built_site):
    site, _ = built_site
    questions = {}  # (page URL, anchor) -> (difficulty, short answer text)
    for page in site.rglob("*.html"):
        content = page.read_text(encoding="utf-8")
        for tag, anchor, shown in _QUESTION.findall(content):
            assert tag == shown, f"{page}: #{anchor} is tagged {tag} but shows {shown}"
            answer = _SHORT_ANSWER.search(content, content.index(f'id="{anchor}"'))
            questions[_url(site, page), anchor] = (tag, _text(answer.group(1)))
    drill = (site / "drill" / "index.html").read_text(encoding="utf-8")
    listed = []
    for href, tag, answer in _DRILL_ENTRY.findall(drill):
        page_url, anchor = urljoin("/drill/", html.unescape(href)).lstrip("/").split("#")
        listed.append((page_url, anchor))
        assert questions[page_url, anchor] == (tag, _text(answer)), f"{page_url}#{anchor} differs on the drill page"
    assert len(questions) >= 6 and sorted(listed) == sorted(questions)
    # Site order: pages in the order of the navigation, each page's questions in its own order.
    home = (site / "index.html").read_text(encoding="utf-8")
    nav_order = [urljoin("/", href).lstrip("/") for href in re.findall(r'<a href="([^"#]+)" class="md-nav__link', home)]
    pages = list(dict.fromkeys(page_url for page_url, _ in listed))
    in_nav = [page_url for page_url in pages if page_url in nav_order]
    assert "activations/" in in_nav
    assert in_nav == sorted(in_nav, key=nav_order.index) and pages[:len(in_nav)] == in_nav
    for page_url in pages:
        anchors = [anchor for url, anchor in listed if url == page_url]
        page_html = (site / page_url / "index.html").read_text(encoding="utf-8")
        assert anchors == sorted(anchors, key=lambda anchor: page_html.index(f'id="{anchor}"'))


def _tiny_project(tmp_path: Path, heading_tag: str) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(
        "# Home\n\n## How to read this\n\nNot a question: no short answer right under it.\n\n"
        "!!! abstract \"Short answer\"\n    An example.\n")
    (tmp_path / "docs" / "topic.md").write_text(textwrap.dedent(f"""\
        # Topic

        ## Tagged question? {{data-difficulty=basic}}

        !!! abstract "Short answer"
            First short answer, see [home](index.md).

        ## Second question?{heading_tag}

        !!! abstract "Short answer"
            Second short answer.
        """))
    config = tmp_path / "mkdocs.yml"
    config.write_text(textwrap.dedent(f"""\
        site_name: tiny
        strict: true
        nav: [index.md, drill.md, topic.md]
        markdown_extensions: [admonition, attr_list, pymdownx.details, toc]
        hooks: ["{ROOT / 'hooks' / 'drill.py'}"]
        """))
    return config


@pytest.mark.parametrize("heading_tag, complaint", [("", "has no difficulty tag"),
                                                     (" {data-difficulty=hard}", "has 'hard'")])
def test_a_question_without_a_valid_tag_fails_the_build_naming_it(mkdocs_build, tmp_path, heading_tag, complaint):
    result = mkdocs_build(_tiny_project(tmp_path, heading_tag), tmp_path / "site")
    assert result.returncode != 0
    assert f"docs/topic.md: 'Second question?' {complaint}" in result.stderr
    assert "Tagged question" not in result.stderr


def test_the_tiny_project_builds_its_drill_page_once_every_question_is_tagged(mkdocs_build, tmp_path):
    result = mkdocs_build(_tiny_project(tmp_path, " {data-difficulty=advanced}"), tmp_path / "site")
    assert result.returncode == 0, result.stderr
    drill = (tmp_path / "site" / "drill" / "index.html").read_text()
    assert drill.count("<details") == 2 and "How to read this" not in drill
    assert '<a href="../topic/#second-question">Second question?</a>' in drill
    assert '<span data-difficulty="advanced">advanced</span>' in drill
    assert 'see <a href="../">home</a>' in drill  # the short answer's own link, rebased to the drill page
    topic = (tmp_path / "site" / "topic" / "index.html").read_text()
    assert topic.count('<p class="dlref-difficulty">') == 2
