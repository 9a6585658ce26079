"""The sdist and wheel of this checkout, built once per test run as a release builds them.

A run split over pytest-xdist workers builds them once too: the first worker that needs them builds them
into the run's shared temporary directory under a file lock, the others wait for it and reuse the result.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent


def run_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory of this whole test run, shared by its pytest-xdist workers (each worker's
    own base directory is a child of it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``run_directory/name``, filled by ``build(directory)`` by the first worker that asks for it.

    A build that failed half-way leaves no mark of completion, so the next worker starts it afresh (and
    fails the same way, in its own tests).
    """
    shared = run_directory(tmp_path_factory)
    target = shared / name
    done = shared / f"{name}.done"
    with _locked(shared / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            build(target)
            done.touch()
    return target


def _build_dists(out: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"wheel": Path, "sdist": Path}`` from ``python -m build`` (isolated build environment)."""
    out = built_once(tmp_path_factory, "dist", _build_dists)
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="session")
def wheelhouse(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local package index (a directory for ``PIP_FIND_LINKS``) with promoter's wheel and every wheel it needs.

    Downloaded once per run; installs that point pip at it with ``PIP_NO_INDEX=1`` are offline and fast.
    Tests copy what they need out of it and never write into it.
    """

    def download(house: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--only-binary=:all:", "--dest", str(house), str(dists["wheel"]), "setuptools>=77"],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    return built_once(tmp_path_factory, "wheelhouse", download)
