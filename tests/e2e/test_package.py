"""The sdist and wheel users install: contents, metadata, and a wheel that runs on its own.

Both are built once per session (the ``dists`` fixture, ``tests/support/dists.py``), so the tests see exactly
what a package index would serve.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import promoter

ROOT = Path(__file__).parent.parent.parent
REPO_URL = "https://github.com/promoter-dev/promoter"


def _wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def test_wheel_carries_license_types_and_bundled_templates(dists: dict[str, Path]) -> None:
    wheel = dists["wheel"]
    assert wheel.name == f"promoter-{promoter.__version__}-py3-none-any.whl"
    names = _wheel_names(wheel)
    dist_info = f"promoter-{promoter.__version__}.dist-info"
    assert f"{dist_info}/licenses/LICENSE" in names, sorted(n for n in names if "dist-info" in n)
    assert "promoter/py.typed" in names
    bundled = {n for n in names if n.startswith("promoter/bundled/templates/")}
    shipped = {
        f"promoter/bundled/templates/{p.name}" for p in (ROOT / "promoter/bundled/templates").glob("*.j2")
    }
    assert shipped and bundled == shipped
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/")) or "__pycache__" in n]
    with zipfile.ZipFile(wheel) as archive:
        license_text = archive.read(f"{dist_info}/licenses/LICENSE").decode()
    assert license_text == (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text


def test_wheel_metadata(dists: dict[str, Path]) -> None:
    metadata = _wheel_metadata(dists["wheel"])
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert not [c for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]
    assert metadata["Requires-Python"] == ">=3.10"
    classifiers = metadata.get_all("Classifier") or []
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Typing :: Typed" in classifiers
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL") or [])
    assert urls["Source"] == REPO_URL and urls["Issues"] == f"{REPO_URL}/issues"
    assert urls["Changelog"].startswith(f"{REPO_URL}/blob/main/")
    assert "gitops" in (metadata["Keywords"] or "")
    requires = {re.split(r"[<>=!~; ]", r, maxsplit=1)[0].lower() for r in metadata.get_all("Requires-Dist")}
    assert {"urllib3", "pygithub", "requests", "click"} <= requires
    pygithub = next(r for r in metadata.get_all("Requires-Dist") if r.lower().startswith("pygithub"))
    assert ">=2.6" in pygithub, pygithub
    # the page on the package index is the README
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "## Install" in metadata.get_payload()


def test_sdist_carries_license_and_builds_what_the_wheel_has(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "promoter/py.typed"} <= names
    assert {n for n in names if n.startswith("promoter/bundled/templates/")}


def test_the_wheel_runs_without_the_source_tree(dists: dict[str, Path], tmp_path: Path) -> None:
    """Installed on its own (dependencies from this interpreter), promoter finds its bundled templates."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), str(dists["wheel"])],
        check=True,
        capture_output=True,
    )  # fmt: skip
    code = (
        "import promoter, sys\n"
        "from importlib.resources import files\n"
        "names = sorted(p.name for p in files('promoter').joinpath('bundled/templates').iterdir())\n"
        "print(promoter.__file__)\n"
        "print(','.join(names))\n"
        "from promoter.cli import main\n"
        "sys.argv = ['promoter', '--version']\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    location, templates, version = done.stdout.splitlines()
    assert Path(location).is_relative_to(target)
    assert "manifests.yaml.j2" in templates.split(",")
    assert version == f"promoter, version {promoter.__version__}"


# -------------------------------------------------------------------------------------------------
# the README is the package index page: its links must work there
# -------------------------------------------------------------------------------------------------
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_links_are_absolute_and_point_at_files_that_exist() -> None:
    links = _LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert links
    relative = [link for link in links if not link.startswith(("https://", "http://", "#"))]
    assert relative == [], "the README is shown on the package index: use absolute links"
    prefix = re.compile(rf"^{re.escape(REPO_URL)}/(blob|tree)/main/(.+?)(#.*)?$")
    for link in links:
        match = prefix.match(link)
        if match:
            kind, path = match.group(1), match.group(2)
            assert (ROOT / path).is_file() if kind == "blob" else (ROOT / path).is_dir(), link
