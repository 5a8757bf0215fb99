"""The built site in a real browser: offline, interactive, readable on a phone.

Every check that applies to every page runs over all of them (the pages are visited once, in the
`page_problems` fixture); the interactive checks (search, palette) run on a few pages.
"""

import html
import json
import re
from collections import Counter
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from tests.browser.sitebrowser import ARTIFACTS, DESKTOP, PHONE, Traffic

pytestmark = pytest.mark.site


def test_every_page_loads_without_console_errors_or_requests_to_another_host(site_browser, page_problems):
    assert page_problems.pages >= 5
    assert site_browser.traffic.errors == []
    assert site_browser.traffic.external == []


def test_a_request_to_another_host_is_blocked_and_counted(browser, site_url):
    traffic = Traffic(site_url)
    context = browser.new_context()
    context.route("**/*", traffic.route)
    page = context.new_page()
    page.goto(site_url)
    outcome = page.evaluate("fetch('https://cdn.example.com/x.js').then(() => 'loaded', () => 'blocked')")
    context.close()
    assert outcome == "blocked"
    assert traffic.external == ["https://cdn.example.com/x.js"]


def test_every_code_block_has_a_copy_button(page_problems):
    assert page_problems.code_blocks > 10
    assert page_problems.copy == []


def test_maths_is_rendered_by_the_vendored_katex(site_browser, page_problems):
    assert page_problems.formulas > 50
    assert page_problems.maths == []
    page = site_browser.open("activations/")
    scripts = page.evaluate("[...document.scripts].map(script => script.src).filter(Boolean)")
    assert any(src.startswith(site_browser.url) and src.endswith("assets/katex/katex.min.js") for src in scripts)
    assert page.locator(".katex").count() > 20


def test_every_figure_is_visible_with_a_size(page_problems):
    assert page_problems.figures >= 2
    assert page_problems.figure == []


def test_no_page_scrolls_sideways_on_a_phone(page_problems):
    assert page_problems.phone == []


def _questions(site_root) -> list[tuple[str, str, str]]:
    """(page URL path, heading id, title) of the first question of every page that has questions."""
    found = []
    for page in sorted(site_root.rglob("*.html")):
        heading = re.search(r'<h2 (?=[^>]*data-difficulty)[^>]*\bid="([^"]+)"[^>]*>(.*?)<a class="headerlink"',
                            page.read_text(encoding="utf-8"))
        if heading:
            path = page.relative_to(site_root).as_posix()[:-len("index.html")]
            found.append((path, heading.group(1), html.unescape(re.sub(r"<[^>]+>", "", heading.group(2)))))
    return found


def _rarest_word(title: str, site_root) -> str:
    """The word of the title found in the fewest search-index entries: the most telling one to type."""
    index = json.loads((site_root / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    entries = Counter(word for doc in index
                      for word in set(re.findall(r"[a-z]+", (doc["title"] + " " + doc["text"]).lower())))
    words = [word for word in re.findall(r"[A-Za-z]+", title) if len(word) > 3]
    return min(words, key=lambda word: (entries[word.lower()], -len(word)))


# Material's result links carry the query (`activations/?h=word#anchor`): match path and anchor apart.
_RESULT_LISTED = """([path, anchor]) => [...document.querySelectorAll('.md-search-result__list a')]
    .some(link => link.pathname === path && link.hash === '#' + anchor)"""


def test_search_finds_every_page_s_first_question_by_a_word_of_its_title(site_browser, site_root):
    questions = _questions(site_root)
    assert any(path == "activations/" for path, _, _ in questions)
    page = site_browser.page
    missed = []
    for path, anchor, title in questions:
        word = _rarest_word(title, site_root)
        site_browser.open("")
        search = page.locator(".md-search__input")
        search.click()
        search.press_sequentially(word, delay=30)
        try:
            page.wait_for_function(_RESULT_LISTED, arg=[urlsplit(site_browser.url + path).path, anchor],
                                   timeout=10_000)
        except PlaywrightTimeoutError:
            missed.append(f"searching {word!r} did not list {path}#{anchor} ({title})")
    assert len(questions) >= 2
    assert missed == []


def test_the_palette_toggle_switches_between_light_and_dark(site_browser):
    page = site_browser.open("activations/")
    scheme = "document.body.getAttribute('data-md-color-scheme')"
    background = "getComputedStyle(document.body).backgroundColor"
    toggle = page.locator("form[data-md-component=palette] label:not([hidden])")
    assert page.evaluate(scheme) == "default"
    light = page.evaluate(background)
    toggle.click()
    page.wait_for_function(f"{scheme} === 'slate'")
    assert page.evaluate(background) != light
    toggle.click()
    page.wait_for_function(f"{scheme} === 'default'")
    assert page.evaluate(background) == light


def test_screenshots_of_the_home_and_activations_pages(site_browser):
    """Written to test-artifacts/ for a developer to look at: desktop full page and a phone's first screen."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = site_browser.page
    for name, path in (("index", ""), ("activations", "activations/")):
        site_browser.open(path)
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=ARTIFACTS / f"{name}-phone.png")
        page.set_viewport_size(DESKTOP)
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
