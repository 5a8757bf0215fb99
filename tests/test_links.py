"""Every internal link of the built site resolves: the target file exists, and so does its #anchor."""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

pytestmark = pytest.mark.site

_ORIGIN = "http://site.invalid"  # stands for the site's own host when resolving relative URLs
_URL_ATTRIBUTES = {"href", "src", "xlink:href"}


class _Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.canonical: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.ids.update(value for name, value in attrs if name == "id" or (name == "name" and tag == "a"))
        self.urls += [value for name, value in attrs if name in _URL_ATTRIBUTES and value]
        if tag == "link" and attributes.get("rel") == "canonical":
            self.canonical = attributes.get("href")


def _base_path(pages: dict[str, _Page]) -> str:
    """The path the site is served under (`/dlref/` for its site_url), as the 404 page links from it."""
    canonical = pages["index.html"].canonical
    return urlsplit(canonical).path if canonical else "/"


def _target(url: str, page: str, base: str) -> tuple[str, str] | None:
    """(file relative to the site, fragment) for a link on the site's own host; None for another host."""
    resolved = urlsplit(urljoin(f"{_ORIGIN}{base}{page}", url))
    if f"{resolved.scheme}://{resolved.netloc}" != _ORIGIN:
        return None
    path = unquote(resolved.path)
    if not path.startswith(base):
        return path, unquote(resolved.fragment)  # outside the site: reported as missing
    relative = path[len(base):]
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    return relative, unquote(resolved.fragment)


def test_every_internal_link_and_anchor_resolves(built_site):
    site, _ = built_site
    pages = {str(path.relative_to(site)): _Page(path.read_text(encoding="utf-8"))
             for path in sorted(site.rglob("*.html"))}
    base = _base_path(pages)
    broken, checked = [], 0
    for name, page in pages.items():
        for url in page.urls:
            target = _target(url, name, base)
            if target is None:
                continue
            checked += 1
            relative, fragment = target
            file = site / relative
            if file.is_dir():
                file, relative = file / "index.html", relative + "/index.html"
            if not file.is_file():
                broken.append(f"{name}: {url} -> missing {relative}")
            elif fragment and relative.endswith(".html") and fragment not in pages[str(Path(relative))].ids:
                broken.append(f"{name}: {url} -> no id '{fragment}' in {relative}")
    assert checked > 100, f"only {checked} internal links found: is the site built?"
    assert broken == [], f"{len(broken)} broken internal links:\n" + "\n".join(broken)
