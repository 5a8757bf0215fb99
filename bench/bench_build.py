"""The build budget: the whole site, every example executed, built cold; the 10 slowest pages.

Builds into a fresh temporary directory in a fresh process, with `DLREF_PAGE_TIMES` set so that
hooks/parallel_exec.py writes each page's time there (its Markdown rendering, which includes executing its
blocks, in whichever of the build's processes executed them: their sum exceeds the wall time). Prints the wall time against the budget (60 s on 2 cores) and the slowest pages, with the
machine's load average: on a shared machine the wall time says little without it. Run alone,
`python bench/bench_build.py [config]` builds another config (a trial one, say).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0
SLOWEST_SHOWN = 10


def cold_build(config: str) -> tuple[float, dict[str, float]]:
    """Wall seconds of a strict build of `config` from nothing, and each page's seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        times_file = Path(scratch) / "page-times.json"
        env = {**os.environ, "DLREF_PAGE_TIMES": str(times_file), "NO_MKDOCS_2_WARNING": "1",
               "SOURCE_DATE_EPOCH": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        start = time.perf_counter()
        build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", config,
                                "-d", str(Path(scratch) / "site")],
                               cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if build.returncode != 0:
            sys.exit(f"the build failed:\n{build.stderr}")
        return seconds, json.loads(times_file.read_text(encoding="utf-8"))


def main(config: str = "mkdocs.yml") -> None:
    load = os.getloadavg()[0]
    seconds, pages = cold_build(config)
    verdict = "within" if seconds <= BUDGET_SECONDS else "OVER"
    print(f"cold build: {seconds:.1f} s for {len(pages)} pages, {verdict} the budget of "
          f"{BUDGET_SECONDS:.0f} s ({os.cpu_count()} cores, load average {load:.1f} at the start)")
    print(f"pages' own time (rendering and executing their code, summed over the build's processes): "
          f"{sum(pages.values()):.1f} s in all; the {min(SLOWEST_SHOWN, len(pages))} slowest:")
    for page, page_seconds in sorted(pages.items(), key=lambda item: item[1], reverse=True)[:SLOWEST_SHOWN]:
        print(f"  {page_seconds:6.2f} s  {page}")


if __name__ == "__main__":
    main(*sys.argv[1:2])  # optional: another config, e.g. a trial one
