"""Fixtures shared by the site tests: one strict build of the whole site per test session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build(config: Path, site_dir: Path, processes: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SOURCE_DATE_EPOCH": "0",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    if processes is not None:  # hooks/parallel_exec.py: how many processes execute the pages' code
        env["DLREF_BUILD_PROCESSES"] = str(processes)
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(config),
                           "-d", str(site_dir)], cwd=config.parent, env=env, capture_output=True, text=True)


@pytest.fixture(scope="session")
def mkdocs_build():
    """`mkdocs_build(config, site_dir, processes=None)`: a strict, quiet build, returning the finished
    process; `processes` overrides the number of processes that execute the pages' code."""
    return _build


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    site = tmp_path_factory.mktemp("site")
    result = _build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr
    return site, result
