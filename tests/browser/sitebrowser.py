"""What the browser tests share: Chromium's launch, the site's server, and the checks run on every page.

The browser is the system's `/usr/bin/chromium` (apt package `chromium`), never one downloaded by
`playwright install`. Every request to another host is blocked and recorded, so a test can assert that
the site works offline.
"""

import posixpath
import re
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# katex-init.js renders every formula of the page in one synchronous pass after the page loads: once
# one formula is rendered, all are that can be (the maths check reports any left raw).
MATHS_RENDERED = """() => !document.querySelector('.arithmatex') || !!document.querySelector('.katex, .katex-error')"""


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves the site under its base path (`/dlref/` for its site_url), as GitHub Pages does."""

    base = "/"

    def translate_path(self, path):
        path = urlsplit(path).path
        inside = path.startswith(self.base)
        return super().translate_path("/" + path[len(self.base):] if inside else "/nonexistent" + path)

    def log_message(self, format, *args):  # noqa: A002 - keep the test output quiet
        pass


def base_path(site: Path) -> str:
    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', (site / "index.html").read_text())
    return urlsplit(canonical.group(1)).path if canonical else "/"


@dataclass
class Traffic:
    """What a page did that it must not: requests to other hosts, console errors, uncaught exceptions."""

    origin: str
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def route(self, route):
        url = route.request.url
        if url.startswith(self.origin) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()


@dataclass
class SiteBrowser:
    page: object
    url: str
    traffic: Traffic

    def open(self, path: str):
        """Load a page of the site and wait until its maths is rendered; returns the page."""
        self.page.goto(self.url + path, wait_until="load")
        self.page.wait_for_function(MATHS_RENDERED, timeout=15_000)
        return self.page


AXE = Path(__file__).with_name("vendor") / "axe.min.js"
SERIOUS = ("serious", "critical")

_CODE_BLOCKS_WITHOUT_COPY_BUTTON = """() => {
  const blocks = [...document.querySelectorAll('.md-content pre > code')];
  const bare = blocks.filter(code =>
    !code.parentElement.querySelector('.md-code__button[data-md-type="copy"], .md-clipboard'));
  return [blocks.length, bare.length];
}"""

# A formula is rendered when KaTeX replaced it: a .katex inside, no .katex-error, and no delimiter left.
_RAW_MATHS = """() => {
  const formulas = [...document.querySelectorAll('.arithmatex')];
  const raw = formulas.filter(element => {
    const rest = element.cloneNode(true);
    rest.querySelectorAll('.katex').forEach(rendered => rendered.remove());
    return !element.querySelector('.katex') || element.querySelector('.katex-error')
      || /[$]|\\\\[()[\\]]/.test(rest.textContent);
  });
  return [formulas.length, raw.map(element => element.textContent.slice(0, 60))];
}"""

# Figures hidden in an unselected tab (markdown-exec's tabbed-left) or a closed <details> are revealed
# first, as a reader would; then every inline SVG must be visible with a non-zero size.
_FIGURE_SIZES = """() => [...document.querySelectorAll('figure.dlref-figure')].map(figure => {
  const tab = figure.closest('.tabbed-block');
  if (tab) {
    const index = [...tab.parentElement.children].indexOf(tab);
    tab.closest('.tabbed-set').querySelectorAll(':scope > input')[index].checked = true;
  }
  for (let details = figure.closest('details'); details; details = details.parentElement.closest('details'))
    details.open = true;
  const svg = figure.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {width: box.width, height: box.height, visible: !!svg && svg.checkVisibility(),
          caption: (figure.querySelector('figcaption') || {textContent: ''}).textContent.slice(0, 60)};
})"""

_HORIZONTAL_OVERFLOW = """() => {
  const root = document.documentElement;
  const beyond = [...document.querySelectorAll('.md-content *')]
    .filter(element => element.getBoundingClientRect().right > root.clientWidth + 1)
    .slice(0, 3).map(element => element.tagName.toLowerCase() + '.' + element.classList[0]);
  return [root.scrollWidth, root.clientWidth, beyond];
}"""

_AXE_RUN = """async options => (await axe.run(document, options)).violations.map(violation => ({
  id: violation.id, impact: violation.impact, help: violation.help,
  targets: violation.nodes.slice(0, 3).map(node => node.target.join(' '))}))"""
_NO_TRANSITIONS = "*, *::before, *::after { transition: none !important; animation: none !important; }"


@dataclass
class Problems:
    """Every problem found on every page, by kind, plus counts that prove the checks ran on something."""

    pages: int = 0
    code_blocks: int = 0
    formulas: int = 0
    figures: int = 0
    axe_seconds: float = 0.0
    copy: list[str] = field(default_factory=list)
    maths: list[str] = field(default_factory=list)
    figure: list[str] = field(default_factory=list)
    phone: list[str] = field(default_factory=list)
    axe: list[str] = field(default_factory=list)


def _serious(violations, page_path: str, scheme: str) -> list[str]:
    return [f"{page_path or '/'} ({scheme}): {v['impact']} {v['id']}: {v['help']} at {v['targets']}"
            for v in violations if v["impact"] in SERIOUS]



def check_every_page(site_browser: SiteBrowser, paths: list[str]) -> Problems:
    """Visit every page once and run every per-page check: copy buttons, maths, figures, the phone
    viewport, and axe-core in the light scheme (every rule).

    The dark scheme's colours come from the theme and dlref.css, the same on every page, and axe's colour
    rules are its slowest (each token of each code block is measured): they run in the dark scheme on the
    first page with code of each folder of the site (a topic page, an API page), not on all of them.
    """
    problems = Problems()
    dark_checked: set[str] = set()
    page = site_browser.page
    for path in paths:
        site_browser.open(path)
        problems.pages += 1
        blocks, bare = page.evaluate(_CODE_BLOCKS_WITHOUT_COPY_BUTTON)
        problems.code_blocks += blocks
        if bare:
            problems.copy.append(f"{path or '/'}: {bare} of {blocks} code blocks have no copy button")
        formulas, raw = page.evaluate(_RAW_MATHS)
        problems.formulas += formulas
        problems.maths += [f"{path or '/'}: not rendered: {text!r}" for text in raw]
        for figure in page.evaluate(_FIGURE_SIZES):
            problems.figures += 1
            if not (figure["visible"] and figure["width"] > 0 and figure["height"] > 0):
                problems.figure.append(f"{path or '/'}: figure not visible: {figure}")
        page.set_viewport_size(PHONE)
        scroll_width, client_width, beyond = page.evaluate(_HORIZONTAL_OVERFLOW)
        if scroll_width > client_width:
            problems.phone.append(f"{path or '/'}: {scroll_width} px wide in a {client_width} px viewport; "
                                  f"too wide: {beyond}")
        page.set_viewport_size(DESKTOP)
        start = time.perf_counter()
        page.add_script_tag(path=str(AXE))
        page.add_style_tag(content=_NO_TRANSITIONS)
        problems.axe += _serious(page.evaluate(_AXE_RUN, {"resultTypes": ["violations"]}), path, "light")
        folder = posixpath.dirname(path.rstrip("/"))
        if blocks and folder not in dark_checked:
            dark_checked.add(folder)
            page.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
            colour_rules = {"runOnly": ["color-contrast", "link-in-text-block"], "resultTypes": ["violations"]}
            problems.axe += _serious(page.evaluate(_AXE_RUN, colour_rules), path, "dark")
        problems.axe_seconds += time.perf_counter() - start
    return problems
