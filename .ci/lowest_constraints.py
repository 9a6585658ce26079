"""Print a pip constraints file that pins every runtime dependency to its declared lower bound.

    python3 .ci/lowest_constraints.py > lowest.txt
    VENV/bin/pip install -c lowest.txt -e . pytest responses hypothesis
    python3 .ci/lowest_constraints.py --check VENV/bin/python   # exit 1 unless exactly those are installed

Each dependency in pyproject.toml must declare its lower bound with ``>=`` and that bound must be a
release that exists (``PyGithub>=2.6`` pins ``PyGithub==2.6``, which pip matches to 2.6.0). Environment
markers are kept, so a pin applies only where the dependency does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import tomllib

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*([^;]*?)\s*(;.*)?$")


def lowest_pins(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    pins = []
    for requirement in project["dependencies"]:
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise SystemExit(f"cannot read the requirement {requirement!r}")
        name, specifiers, marker = match.groups()
        lower = [s.strip()[2:].strip() for s in specifiers.split(",") if s.strip().startswith(">=")]
        if len(lower) != 1:
            raise SystemExit(f"{name}: declare exactly one lower bound with >= (found {specifiers!r})")
        pins.append(f"{name}=={lower[0]}{' ' + marker if marker else ''}")
    return pins


def installed_versions(python: str) -> dict[str, str]:
    listing = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {_normalise(item["name"]): item["version"] for item in json.loads(listing)}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _same_version(installed: str, pinned: str) -> bool:
    """``2.6`` and ``2.6.0`` name the same release (PEP 440 pads with zeros)."""
    return re.sub(r"(\.0)+$", "", installed) == re.sub(r"(\.0)+$", "", pinned)


def check(python: str, pins: list[str]) -> list[str]:
    """The pins that ``python`` does not have installed exactly (markers that do not apply are skipped)."""
    installed = installed_versions(python)
    wrong = []
    for pin in pins:
        name, _, rest = pin.partition("==")
        version = rest.split(";", 1)[0].strip()
        have = installed.get(_normalise(name))
        if have is None and ";" in rest:
            continue  # the marker excludes this interpreter
        if have is None or not _same_version(have, version):
            wrong.append(f"{name}: pinned {version}, installed {have}")
    return wrong


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    pins = lowest_pins(root / "pyproject.toml")
    if sys.argv[1:2] == ["--check"]:
        problems = check(sys.argv[2], pins)
        for problem in problems:
            print(f"lowest versions: {problem}", file=sys.stderr)
        print(f"lowest versions: {len(pins) - len(problems)} of {len(pins)} pins installed exactly")
        sys.exit(1 if problems else 0)
    sys.stdout.write("".join(f"{pin}\n" for pin in pins))
