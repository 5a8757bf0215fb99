"""MkDocs hook: a failed code block fails the build.

markdown-exec only logs a warning when an executed block raises, and `mkdocs build --strict -q` still
exits 0 then, because `-q` silences warnings before strict mode can count them. This hook listens to
markdown-exec's logger directly, attributes each failure to the page being rendered and to the line of
the page where the failing block starts, and aborts the build with all of them listed.

Pages are timed by hooks/parallel_exec.py, which decides where their code runs.
"""

from __future__ import annotations

import logging
import os
import re

from mkdocs.exceptions import PluginError

# Pinned before any page imports numpy or torch: two libraries with two threads each fight over 2 cores.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

_EXEC_LOGGER = "mkdocs.plugins.markdown_exec"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[^\n]*\bexec=", re.M)


class _FailureRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


_recorder = _FailureRecorder()
_state: dict = {"markdown": "", "failures": []}


def _failing_line(markdown: str, message: str) -> int | None:
    """1-based line of the page that raised: the block's fence, found from the logged source, plus the
    line of the block named by the traceback. None when the block's source is not in the page itself."""
    match = re.search(r"Code block is:\n\n(.*?)\n\nOutput is:", message, re.S)
    if not match:
        return None
    source = [line[2:] for line in match.group(1).splitlines()]
    first = next((line.strip() for line in source if line.strip()), "")
    for fence in _FENCE.finditer(markdown):
        body_start = markdown.index("\n", fence.end()) + 1
        close = markdown.find(fence.group("indent") + fence.group("fence"), body_start)
        body = markdown[body_start:close if close != -1 else None]
        if first and first in body:
            in_block = re.findall(r'File "<code block: [^>]*>", line (\d+)', message)
            return markdown.count("\n", 0, fence.start()) + 1 + (int(in_block[-1]) if in_block else 0)
    return None


def _error_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def on_startup(command, dirty):  # noqa: ARG001 - MkDocs hook signature
    logger = logging.getLogger(_EXEC_LOGGER)
    # -q raises the level of the 'mkdocs' logger; ours must still see warnings.
    logger.setLevel(logging.WARNING)
    if _recorder not in logger.handlers:
        logger.addHandler(_recorder)


def on_pre_build(config):  # noqa: ARG001
    on_startup("build", False)  # also when loaded by `mkdocs serve` rebuilds or by tests
    _recorder.records.clear()
    _state["failures"] = []


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001
    _state["markdown"] = markdown
    _recorder.records.clear()
    return markdown


def on_page_content(html, page, config, files):  # noqa: ARG001
    for message in _recorder.records:
        if not message.startswith("markdown_exec: Execution of"):
            continue
        line = _failing_line(_state["markdown"], message)
        where = f"docs/{page.file.src_uri}" + (f":{line}" if line else "")
        _state["failures"].append(f"{where}: code block failed: {_error_line(message)}")
    _recorder.records.clear()
    return html


def on_post_build(config):  # noqa: ARG001
    if _state["failures"]:
        raise PluginError("executed code failed on {} block(s):\n  {}".format(
            len(_state["failures"]), "\n  ".join(_state["failures"])))
