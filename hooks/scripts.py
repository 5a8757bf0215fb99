"""MkDocs hook: "run it yourself". Every page with executed Python offers it as a script and a notebook.

The hook wraps markdown-exec's Python fence formatter, so it records exactly the code that markdown-exec
executed (with `--8<--` snippets already included) and the session of each block. In the HTML, each
executed block is wrapped in `<div class="dlref-exec" data-session=...>`, and its text output (the code
block markdown-exec renders for `result="text"`) gets the class `dlref-output`, so readers, CSS and tests
can tell the output from the source. After the page is rendered the hook writes, beside the page:

- `<page>.py`: the page's blocks grouped by session (sessions in the order they first appear, blocks in
  page order), each session under a `# %%` header naming its question; run with plain `python`;
- `<page>.ipynb`: the same cells as an nbformat 4 notebook (JSON written here, no extra dependency);

and links both at the top of the page. A test runs every script and compares what it prints with the
outputs the page shows.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from markupsafe import Markup
from mkdocs.exceptions import PluginError

_LANGUAGES = ("python", "py")
_HIGHLIGHT = re.compile(r'<div class="((?:[^"]*\s)?highlight(?:\s[^"]*)?)">')
# markdown-exec's source locations: where the result sits among the rendered code blocks.
_RESULT_IS_LAST = {"above", "block", "material-block", "tabbed-left"}
_RESULT_IS_FIRST = {"below", "tabbed-right"}
_WRAPPER = re.compile(r'<div class="dlref-exec" data-block="(\d+)"')
_H1_END = re.compile(r"</h1>\s*")
_H2_ID = re.compile(r'<h2\s[^>]*\bid="([^"]+)"')


@dataclass(frozen=True)
class Block:
    code: str
    session: str
    html: bool


_state: dict = {"page": None, "blocks": [], "outputs": {}}


def _mark_output(rendered: str, options: dict) -> str:
    """Add the class `dlref-output` to the code block that shows a text result."""
    location = options.get("source", "")
    if options.get("html") or not options.get("result") or location == "console":
        return rendered
    blocks = list(_HIGHLIGHT.finditer(rendered))
    if location in _RESULT_IS_LAST:
        chosen = blocks[-1] if len(blocks) >= 2 else None
    elif location in _RESULT_IS_FIRST:
        chosen = blocks[0] if len(blocks) >= 2 else None
    else:
        chosen = blocks[0] if len(blocks) == 1 else None
    if chosen is None:  # the block raised: markdown-exec shows the error instead, the build guard fails
        return rendered
    return (rendered[:chosen.start()] + f'<div class="{chosen.group(1)} dlref-output">'
            + rendered[chosen.end():])


def _recording(formatter):
    def format_and_record(source, language, css_class, options, md, **kwargs):
        rendered = formatter(source, language, css_class, options, md, **kwargs)
        if _state["page"] is None:  # a fence rendered outside a page (e.g. by another plugin)
            return rendered
        index = len(_state["blocks"])
        session = options.get("session") or f"isolated block {index + 1}"
        _state["blocks"].append(Block(source, session, bool(options.get("html"))))
        return Markup(f'<div class="dlref-exec" data-block="{index}" data-session="{html.escape(session)}">'
                      f"{_mark_output(str(rendered), options)}</div>")
    return format_and_record


def on_config(config):
    fences = config.mdx_configs.get("pymdownx.superfences", {}).get("custom_fences", [])
    wrapped = 0
    for fence in fences:
        if fence.get("name") in _LANGUAGES and fence["format"].__module__.startswith("markdown_exec"):
            fence["format"] = _recording(fence["format"])
            wrapped += 1
    if not wrapped:
        raise PluginError("hooks/scripts.py: markdown-exec's python fence was not found; list the "
                          "markdown-exec plugin in mkdocs.yml")
    return config


def on_pre_build(config):  # noqa: ARG001
    _state.update(page=None, blocks=[], outputs={})


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001
    _state.update(page=page, blocks=[])
    return markdown


def _question_titles(toc) -> dict[str, str]:
    titles = {}
    for item in toc:
        titles[item.id] = html.unescape(item.title)
        titles.update(_question_titles(item.children))
    return titles


def _sessions(content: str, page) -> list[tuple[str, list[Block]]]:
    """The page's blocks grouped by session, in page order, each with the title of the H2 above it."""
    titles = _question_titles(page.toc)
    headings = [(match.start(), titles.get(match.group(1), "")) for match in _H2_ID.finditer(content)]
    sessions: dict[str, tuple[str, list[Block]]] = {}
    for wrapper in _WRAPPER.finditer(content):
        block = _state["blocks"][int(wrapper.group(1))]
        above = [title for position, title in headings if position < wrapper.start()]
        title = above[-1] if above else page.title
        sessions.setdefault(block.session, (title, []))[1].append(block)
    return list(sessions.values())


def _script(title: str, url: str, filename: str, sessions) -> str:
    parts = [f'"""{title}: the code executed on {url} when the site was built.\n\n'
             "Generated from the page's own blocks. Run it with dlref installed:\n\n"
             f"    python {filename}\n\n"
             "Each `# %%` section is one answer; its first block has the imports, so it also runs alone.\n"
             '"""\n']
    for question, blocks in sessions:
        parts.append(f"# %% {question}\n\n" + "\n\n".join(block.code.strip("\n") for block in blocks) + "\n")
    return "\n\n".join(parts)


def _cell(kind: str, number: int, text: str) -> dict:
    lines = text.strip("\n").split("\n")
    cell = {"cell_type": kind, "id": f"cell-{number}", "metadata": {},
            "source": [line + "\n" for line in lines[:-1]] + lines[-1:]}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _notebook(title: str, url: str, sessions) -> str:
    texts = [("markdown", f"# {title}\n\nThe code executed on <{url}> when the site was built, "
                          "generated from the page's own blocks. Each section is one answer.")]
    for question, blocks in sessions:
        texts.append(("markdown", f"## {question}"))
        texts += [("code", block.code) for block in blocks]
    notebook = {
        "cells": [_cell(kind, number, text) for number, (kind, text) in enumerate(texts, 1)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def on_page_content(content, page, config, files):  # noqa: ARG001
    blocks, _state["page"] = _state["blocks"], None
    if not blocks:
        return content
    sessions = _sessions(content, page)
    stem = posixpath.splitext(posixpath.basename(page.file.src_uri))[0]
    folder = posixpath.dirname(page.file.dest_uri)
    url = urljoin(config.site_url or "", page.url)
    for extension, text in ((".py", _script(page.title, url, stem + ".py", sessions)),
                            (".ipynb", _notebook(page.title, url, sessions))):
        _state["outputs"][posixpath.join(folder, stem + extension)] = text
    note = (f'<p class="dlref-run-it">Run it yourself: this page\'s code, every executed block in order, as '
            f'a script, <a href="{stem}.py" download>{stem}.py</a>, or as a notebook, '
            f'<a href="{stem}.ipynb" download>{stem}.ipynb</a>.</p>\n')
    heading = _H1_END.search(content)
    where = heading.end() if heading else 0
    return content[:where] + note + content[where:]


def on_post_build(config):
    site = Path(config.site_dir)
    for relative, text in _state["outputs"].items():
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
