"""YAML edit and CLI start-up figures (BENCHMARKS.md: "YAML edit", "CLI start-up").

Generates a ~0.5 MB / ~27,000-line Helm values file with many image blocks and comments, then takes the
median of N runs (each a fresh process) of:

  a) ``promoter set-image`` (one image edit, written to disk)
  b) the baseline: ruamel.yaml round-trip load + dump (``YAML()``, ``preserve_quotes=True``) of the same file
  c) the C-parser compose alone (``YAML(typ='safe').compose``)
  d) ``python -c "import click"`` versus ``promoter --version`` and ``promoter --help``

Usage: python3 benchmarks/yaml_edit.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROMOTER = [sys.executable, "-m", "promoter"]
# What-if row: the same command with ruamel's per-scalar resolver lookup cached (a proposed engine change).
CACHED_RESOLVER = """\
from ruamel.yaml.resolver import VersionedResolver
_slow = VersionedResolver.versioned_resolver.fget
def _cached(self):
    found = self.__dict__.get("_promoter_cached")
    if found is None:
        found = self.__dict__["_promoter_cached"] = _slow(self)
    return found
VersionedResolver.versioned_resolver = property(_cached)
import sys
from promoter.cli import main
main(sys.argv[1:])
"""
BLOCK = """\
# -- {name}
{name}:
  enabled: true
  replicas: 2
  # -- container image, bumped by CI
  image:
    registry: registry.example.com
    repository: acme/{name}
    tag: "1.{minor}.{patch}"  # CI
    digest: ""
    pullPolicy: Always
  service: {{port: 80}}
  resources: {{}}

"""


def generate(path: Path, blocks: int = 1928) -> None:
    text = '# Generated values file for benchmarks/yaml_edit.py\nglobal:\n  imageRegistry: ""\n\n'
    text += "".join(BLOCK.format(name=f"svc-{i:04d}", minor=i % 17, patch=i % 5) for i in range(blocks))
    path.write_text(text)


def run_once(command: list[str], before: Callable[[], None] | None) -> float:
    if before is not None:
        before()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def interleaved(
    commands: dict[str, tuple[list[str], Callable[[], None] | None]], runs: int
) -> dict[str, float]:
    """Median per command; the commands take turns in every round so machine noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, before) in commands.items():
            samples[name].append(run_once(command, before))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        pristine = Path(tmp) / "pristine.yaml"
        values = Path(tmp) / "values.yaml"
        generate(pristine)
        text = pristine.read_text()
        size, lines = len(text.encode()), text.count("\n")

        def reset() -> None:
            shutil.copyfile(pristine, values)

        set_image = [
            *PROMOTER,
            "set-image",
            str(values),
            "--image",
            "registry.example.com/acme/svc-1500:2.0.0",
        ]
        reset()
        subprocess.run(set_image, check=True, stdout=subprocess.DEVNULL)
        changed = [
            a for a, b in zip(pristine.read_text().splitlines(), values.read_text().splitlines()) if a != b
        ]
        assert len(changed) == 1, changed  # exactly one line changed: the tag
        round_trip = [
            sys.executable,
            "-c",
            "import sys, io\nfrom ruamel.yaml import YAML\ny = YAML()\ny.preserve_quotes = True\n"
            f"data = y.load(open({str(values)!r}))\ny.dump(data, io.StringIO())\n",
        ]
        compose = [
            sys.executable,
            "-c",
            f"from ruamel.yaml import YAML\nYAML(typ='safe').compose(open({str(values)!r}).read())\n",
        ]
        figures = interleaved(
            {
                "set-image": (set_image, reset),
                "set-image*": ([sys.executable, "-c", CACHED_RESOLVER, *set_image[3:]], reset),
                "round-trip": (round_trip, reset),
                "compose": (compose, reset),
            },
            runs,
        )
        figures |= interleaved(
            {
                "import click": ([sys.executable, "-c", "import click"], None),
                "--version": ([*PROMOTER, "--version"], None),
                "--help": ([*PROMOTER, "--help"], None),
            },
            runs * 2,
        )
    print(f"file: {size / 1e6:.2f} MB, {lines} lines, median of {runs} runs (start-up {runs * 2})")
    for name, seconds in figures.items():
        print(f"  {name:<14} {seconds * 1000:8.0f} ms")
    ratios = [
        ("round-trip / set-image (target >= 5x)", figures["round-trip"] / figures["set-image"]),
        ("set-image / compose alone (target < 2x)", figures["set-image"] / figures["compose"]),
        ("set-image* / compose alone (resolver cached)", figures["set-image*"] / figures["compose"]),
        ("round-trip / set-image* (resolver cached)", figures["round-trip"] / figures["set-image*"]),
        ("--version / import click (target < 2x)", figures["--version"] / figures["import click"]),
        ("--help / import click (target < 2x)", figures["--help"] / figures["import click"]),
    ]
    for label, ratio in ratios:
        print(f"  {label:<42} {ratio:5.2f}x")


if __name__ == "__main__":
    main()
