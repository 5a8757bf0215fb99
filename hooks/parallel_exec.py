"""MkDocs hook: execute the pages' code on every core, and time each page.

Executing the pages' Python is most of a build, and MkDocs renders pages one after another in one
process. Just before the pages are rendered, this hook forks worker processes (up to one per core, at
most `_MAX_PROCESSES`, or `DLREF_BUILD_PROCESSES`). The main process renders the pages in MkDocs' order
from the front; each worker takes pages that execute code from the back, renders them with markdown-exec
as usual, and records what every block printed (or the error it raised). When the main process reaches a
page a worker took, it renders it without executing anything: markdown-exec's runner is replaced, for
that page only, by one that replays the worker's record, block by block, after checking that the block
and its session are the very ones the worker ran. Everything else (markdown-exec's formatting and error
logging, the other hooks, link validation, the search index) happens in the main process as in a serial
build, so the site is the same; a test compares two builds.

This relies on the house rule that a session never spans two pages (each page prefixes its sessions),
which the hook checks: a page that reuses another page's session fails the build. A worker that dies
leaves its unfinished page to the main process, which then executes it itself. `mkdocs serve` builds
serially.

Each page's time is its rendering, including executing its blocks, wherever that happened; with the
environment variable `DLREF_PAGE_TIMES` set to a path, every page's time is written there as JSON for
`make bench`, and the slowest pages are printed.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from markdown_exec._internal.formatters import python as markdown_exec_python
from markdown_exec._internal.formatters.base import ExecutionError
from mkdocs.commands.build import _populate_page
from mkdocs.exceptions import PluginError

_MAX_PROCESSES = 4
_SLOWEST_SHOWN = 5
_POLL_SECONDS = 0.02
# What the pages import, loaded once before forking so that the workers share it instead of each paying
# for the import again (about 6 s of CPU per process). torch._dynamo is what the first torch optimizer
# of a process imports.
_PRELOADED = ("matplotlib.figure", "sklearn.datasets", "sklearn.linear_model", "torch", "torch._dynamo")
_EXECUTED_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\bexec=", re.M)
_run_python = markdown_exec_python._run_python  # markdown-exec's own runner: executes one block


class Run(NamedTuple):
    """One executed block: what ran, in which session, and what it printed or the error it raised."""

    code: str
    session: str | None
    output: str | None
    error: str | None


_state: dict = {"serial": True, "order": {}, "claims": None, "workers": [], "processes": 1, "folder": None,
                "replay": None, "page": None, "start": 0.0, "times": {}, "sessions": {}, "problems": []}


def _processes() -> int:
    wanted = os.environ.get("DLREF_BUILD_PROCESSES")
    if wanted is not None:
        if not wanted.isdigit() or int(wanted) < 1:
            raise PluginError(f"DLREF_BUILD_PROCESSES must be a positive integer; got {wanted!r}.")
        return int(wanted)
    return min(os.cpu_count() or 1, _MAX_PROCESSES)


def _recording_runner(runs: list[Run]):
    def run_and_record(code, returncode=None, session=None, id=None, **extra):  # noqa: A002
        try:
            output = _run_python(code, returncode=returncode, session=session, id=id, **extra)
        except ExecutionError as error:
            runs.append(Run(code, session, None, str(error)))
            raise
        runs.append(Run(code, session, output, None))
        return output
    return run_and_record


def _replaying_runner(code, returncode=None, session=None, id=None, **extra):  # noqa: A002
    """markdown-exec's runner in the main process: run the block, or, on a page a worker executed, return
    (or raise) what the worker recorded for it. A problem is kept for `on_page_content` to raise, since
    pymdownx.superfences would turn an exception raised here into a plain code block."""
    page = _state["page"]
    if session and page is not None:  # blocks without a session share nothing
        owner = _state["sessions"].setdefault(session, page)
        if owner != page:
            _state["problems"].append(f"docs/{page}: session {session!r} is also used on docs/{owner}; "
                                      f"sessions are global to the build, so prefix them with the page's name.")
    runs = _state["replay"]
    if runs is None:  # a page of the main process, or a block rendered outside any page
        return _run_python(code, returncode=returncode, session=session, id=id, **extra)
    if not runs or runs[0].code != code or runs[0].session != session:
        _state["problems"].append(f"hooks/parallel_exec.py: docs/{page}: the block rendered now (session "
                                  f"{session!r}) is not the next block the worker executed; run with "
                                  f"DLREF_BUILD_PROCESSES=1 to build serially.")
        return ""
    run = runs.pop(0)
    if run.error is not None:
        raise ExecutionError(run.error)
    return run.output


def _worker(pages: list, config, files, claims, folder: str) -> None:
    """Take executing pages from the back until the main process's front reaches them; record each.

    A page whose rendering fails here is recorded as None: the main process renders and reports it.
    """
    import logging

    logging.disable(logging.CRITICAL)  # the main process logs everything when it renders the page
    _state.update(order={}, replay=None)  # this hook's page events, run here too, must not claim pages
    front, back, lock = claims
    while True:
        with lock:
            index = back.value
            if index < front.value:
                return
            back.value = index - 1
        runs: list[Run] = []
        markdown_exec_python._run_python = _recording_runner(runs)
        start = time.perf_counter()
        try:
            _populate_page(pages[index], config, files)
            record = {"runs": runs, "seconds": time.perf_counter() - start}
        except Exception:  # noqa: BLE001 - the main process renders this page itself and reports it
            record = None
        partial = Path(folder) / f"{index}.partial"
        partial.write_text(json.dumps(record), encoding="utf-8")
        partial.rename(Path(folder) / f"{index}.json")


def _claim_or_wait(index: int, uri: str) -> dict | None:
    """None if the main process executes page `index` itself, else the worker's record of it."""
    front, back, lock = _state["claims"]
    with lock:
        if index <= back.value:
            front.value = index + 1
            return None
    done = Path(_state["folder"]) / f"{index}.json"
    while not done.exists():
        if not any(worker.is_alive() for worker in _state["workers"]):
            if done.exists():
                break
            print(f"dlref: a build worker stopped before finishing docs/{uri}; executing it here",
                  file=sys.stderr)
            return None
        time.sleep(_POLL_SECONDS)
    return json.loads(done.read_text(encoding="utf-8"))


def on_startup(command, dirty):  # noqa: ARG001 - MkDocs hook signature
    _state["serial"] = command != "build"


def on_pre_build(config):  # noqa: ARG001
    _state.update(order={}, claims=None, workers=[], processes=1, folder=None, replay=None, page=None,
                  times={}, sessions={}, problems=[])
    markdown_exec_python._run_python = _replaying_runner


def on_nav(nav, config, files):  # noqa: ARG001
    """The last event before MkDocs renders the pages: fork the workers here."""
    pages = [file.page for file in files.documentation_pages()
             if file.page is not None and _EXECUTED_FENCE.search(file.content_string)]
    processes = 1 if _state["serial"] else min(_processes(), len(pages))
    if processes < 2:
        return nav
    for module in _PRELOADED:
        importlib.import_module(module)
    context = multiprocessing.get_context("fork")
    lock = context.Lock()
    claims = (context.Value("i", 0, lock=False), context.Value("i", len(pages) - 1, lock=False), lock)
    folder = tempfile.mkdtemp(prefix="dlref-build-")
    _state.update(order={page.file.src_uri: i for i, page in enumerate(pages)}, claims=claims, folder=folder,
                  processes=processes)
    for _ in range(processes - 1):
        worker = context.Process(target=_worker, args=(pages, config, files, claims, folder), daemon=True)
        worker.start()
        _state["workers"].append(worker)
    return nav


def on_pre_page(page, config, files):  # noqa: ARG001
    uri = page.file.src_uri
    _state.update(page=uri, replay=None)
    if uri in _state["order"]:
        record = _claim_or_wait(_state["order"][uri], uri)
        if record is not None:
            _state["replay"] = [Run(*run) for run in record["runs"]]
            _state["times"][uri] = record["seconds"]
    return page


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001
    _state["start"] = time.perf_counter()
    return markdown


def on_page_content(html, page, config, files):  # noqa: ARG001
    uri = page.file.src_uri
    replay = _state["replay"]
    if replay is None:
        _state["times"][uri] = time.perf_counter() - _state["start"]
    elif replay:
        _state["problems"].append(f"hooks/parallel_exec.py: docs/{uri}: the worker executed {len(replay)} "
                                  f"more block(s) than the page has now; run with DLREF_BUILD_PROCESSES=1.")
    _state.update(replay=None, page=None)
    if _state["problems"]:
        raise PluginError("\n".join(_state["problems"]))
    return html


def _stop_workers(*, wait: bool) -> None:
    for worker in _state["workers"]:
        if not wait:
            worker.terminate()
        worker.join()
    _state["workers"] = []
    if _state["folder"]:
        shutil.rmtree(_state["folder"], ignore_errors=True)


def on_build_error(error):  # noqa: ARG001
    _stop_workers(wait=False)


def on_post_build(config):  # noqa: ARG001
    _stop_workers(wait=True)
    times = _state["times"]
    slowest = sorted(times.items(), key=lambda item: item[1], reverse=True)[:_SLOWEST_SHOWN]
    print(f"dlref: rendered {len(times)} pages ({sum(times.values()):.1f} s in all, on {_state['processes']} "
          f"process(es)); slowest: " + ", ".join(f"{page} {seconds:.2f} s" for page, seconds in slowest),
          file=sys.stderr)
    if os.environ.get("DLREF_PAGE_TIMES"):
        with open(os.environ["DLREF_PAGE_TIMES"], "w", encoding="utf-8") as handle:
            json.dump(times, handle, indent=1, sort_keys=True)
