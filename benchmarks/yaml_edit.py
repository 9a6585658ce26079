"""YAML edit figures, each beside its baseline in the same run (BENCHMARKS.md: "YAML edit", "CLI start-up").

Generates Helm values files with many image blocks and comments (0.5 MB / ~27,000 lines and 5 MB), then
takes the median of N fresh processes of each command, commands interleaved so machine noise hits all alike:

  1. 0.5 MB: ``promoter set-image`` (one image edit, written to disk) vs a ruamel.yaml round trip
     (``YAML()``, ``preserve_quotes=True``: load + dump), the approach of tools that re-dump a file
  2. 5 MB: ``promoter set-image`` vs ruamel's C-parser ``compose`` of the same file alone (ruamel defaults)
  3. ``--dry-run`` (the unified diff printed, nothing written) vs the same edit written, both sizes
  4. peak RSS of each command (``os.wait4`` rusage of the child, started from a small launcher process)
     vs the interpreter's baseline: the same ``promoter set-image`` on a one-block file
  5. ``python -c "import click"`` vs ``promoter --version`` and ``promoter --help``

``--profile`` also prints the top functions (cProfile, in process) of one 0.5 MB and one 5 MB edit;
``--before DIR`` adds the same ``set-image`` runs of another promoter source tree (e.g. an older release
unpacked with ``git archive``), for before/after figures in one run.

Usage: python3 benchmarks/yaml_edit.py [--runs N] [--profile] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

PROMOTER = [sys.executable, "-m", "promoter"]
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
SMALL_BLOCKS = 1928  # 0.51 MB, 26,996 lines
LARGE_BLOCKS = 19280  # 5.1 MB, 269,924 lines


def generate(path: Path, blocks: int = SMALL_BLOCKS) -> None:
    text = '# Generated values file for benchmarks/yaml_edit.py\nglobal:\n  imageRegistry: ""\n\n'
    text += "".join(BLOCK.format(name=f"svc-{i:05d}", minor=i % 17, patch=i % 5) for i in range(blocks))
    path.write_text(text)


# A small, fresh launcher runs each measured command: a child's peak RSS (``ru_maxrss``) also counts the
# memory of the process it was forked from, so that must not be this script with its large strings.
LAUNCHER = """\
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_once(command: list[str], before: Callable[[], None] | None) -> tuple[float, int]:
    """Wall time (s) and peak RSS (KiB) of one fresh process."""
    if before is not None:
        before()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], check=True, capture_output=True, text=True
    )
    elapsed, peak, code = done.stdout.split()
    if code != "0":
        raise SystemExit(f"failed ({code}): {' '.join(command)}")
    return float(elapsed), int(peak)


def interleaved(
    commands: dict[str, tuple[list[str], Callable[[], None] | None]], runs: int
) -> dict[str, tuple[float, int]]:
    """Median wall time and median peak RSS per command; the commands take turns in every round."""
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, before) in commands.items():
            samples[name].append(run_once(command, before))
    return {
        name: (statistics.median(t for t, _ in values), int(statistics.median(r for _, r in values)))
        for name, values in samples.items()
    }


def profile(path: Path, image: str, label: str) -> None:
    import cProfile
    import pstats

    from promoter.yamledit.finders import set_image

    profiler = cProfile.Profile()
    profiler.enable()
    set_image([path], image, write=False)
    profiler.disable()
    print(f"\nprofile: one set-image on {label} (in process, imports excluded), top 8 by own time")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--before", type=Path, help="another promoter source tree to measure alongside")
    options = parser.parse_args()
    runs = options.runs
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[str, tuple[Path, Path]] = {}
        for label, blocks in (("0.5 MB", SMALL_BLOCKS), ("5 MB", LARGE_BLOCKS), ("tiny", 1)):
            pristine, work = Path(tmp) / f"{blocks}.pristine.yaml", Path(tmp) / f"{blocks}.yaml"
            generate(pristine, blocks)
            files[label] = (pristine, work)

        def reset(label: str) -> Callable[[], None]:
            return lambda: shutil.copyfile(*files[label])

        def set_image(label: str, *extra: str) -> list[str]:
            image = (
                "registry.example.com/acme/svc-00000:2.0.0"
                if label == "tiny"
                else ("registry.example.com/acme/svc-01500:2.0.0")
            )
            return [*PROMOTER, "set-image", str(files[label][1]), "--image", image, *extra]

        for label in ("0.5 MB", "5 MB"):  # the edit changes exactly the tag line
            reset(label)()
            subprocess.run(set_image(label), check=True, stdout=subprocess.DEVNULL)
            pristine, work = files[label]
            changed = [
                a for a, b in zip(pristine.read_text().splitlines(), work.read_text().splitlines()) if a != b
            ]
            assert changed == ['    tag: "1.4.0"  # CI'], changed

        def python(code: str) -> list[str]:
            return [sys.executable, "-c", code]

        round_trip = python(
            "import io\nfrom ruamel.yaml import YAML\ny = YAML()\ny.preserve_quotes = True\n"
            f"data = y.load(open({str(files['0.5 MB'][1])!r}))\ny.dump(data, io.StringIO())\n"
        )
        compose = python(
            f"from ruamel.yaml import YAML\nYAML(typ='safe').compose(open({str(files['5 MB'][1])!r}).read())\n"
        )
        commands = {
            "set-image 0.5 MB": (set_image("0.5 MB"), reset("0.5 MB")),
            "set-image 0.5 MB --dry-run": (set_image("0.5 MB", "--dry-run"), reset("0.5 MB")),
            "round trip 0.5 MB": (round_trip, reset("0.5 MB")),
            "set-image 5 MB": (set_image("5 MB"), reset("5 MB")),
            "set-image 5 MB --dry-run": (set_image("5 MB", "--dry-run"), reset("5 MB")),
            "C compose 5 MB": (compose, reset("5 MB")),
            "set-image tiny (baseline)": (set_image("tiny"), reset("tiny")),
        }
        if options.before is not None:
            # -P: the working directory (this source tree) must not come first on sys.path
            older = ["env", f"PYTHONPATH={options.before.resolve()}", sys.executable, "-P", "-m", "promoter"]
            for label in ("0.5 MB", "5 MB", "tiny"):
                command = [*older, *set_image(label)[len(PROMOTER) :]]
                commands[f"before: set-image {label}"] = (command, reset(label))
        figures = interleaved(commands, runs)
        startup = interleaved(
            {
                "import click": (python("import click"), None),
                "--version": ([*PROMOTER, "--version"], None),
                "--help": ([*PROMOTER, "--help"], None),
            },
            runs * 2,
        )
        sizes = {label: files[label][0].stat().st_size for label in files}
        lines = {label: files[label][0].read_text().count("\n") for label in files}
        if options.profile:
            for label in ("0.5 MB", "5 MB"):
                reset(label)()
                profile(files[label][1], "registry.example.com/acme/svc-01500:2.0.0", label)

    print(
        f"files: 0.5 MB = {sizes['0.5 MB'] / 1e6:.2f} MB / {lines['0.5 MB']} lines, "
        f"5 MB = {sizes['5 MB'] / 1e6:.2f} MB / {lines['5 MB']} lines; median of {runs} runs "
        f"(start-up {runs * 2}); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  {'command':<28} {'wall':>9} {'peak RSS':>10}")
    for name, (seconds, rss) in [*figures.items(), *startup.items()]:
        print(f"  {name:<28} {seconds * 1000:7.0f} ms {rss / 1024:7.1f} MB")
    wall = {name: seconds for name, (seconds, _) in figures.items()}
    rss = {name: kib * 1024 for name, (_, kib) in figures.items()}
    base = rss["set-image tiny (baseline)"]
    print("  ratios")
    ratios = [
        (
            "round trip / set-image, 0.5 MB (target >= 10x)",
            wall["round trip 0.5 MB"] / wall["set-image 0.5 MB"],
        ),
        ("set-image / C compose alone, 5 MB (target <= 1x)", wall["set-image 5 MB"] / wall["C compose 5 MB"]),
        ("--dry-run / written, 0.5 MB", wall["set-image 0.5 MB --dry-run"] / wall["set-image 0.5 MB"]),
        ("--dry-run / written, 5 MB", wall["set-image 5 MB --dry-run"] / wall["set-image 5 MB"]),
        (
            "(peak RSS 5 MB - baseline) / file size (target <= 3x)",
            (rss["set-image 5 MB"] - base) / sizes["5 MB"],
        ),
        (
            "(peak RSS 5 MB --dry-run - baseline) / file size",
            (rss["set-image 5 MB --dry-run"] - base) / sizes["5 MB"],
        ),
        ("--version / import click (target < 2x)", startup["--version"][0] / startup["import click"][0]),
        ("--help / import click (target < 2x)", startup["--help"][0] / startup["import click"][0]),
    ]
    if options.before is not None:
        before_base = rss["before: set-image tiny"]
        ratios += [
            (
                "before: round trip / set-image, 0.5 MB",
                wall["round trip 0.5 MB"] / wall["before: set-image 0.5 MB"],
            ),
            (
                "before: set-image / C compose alone, 5 MB",
                wall["before: set-image 5 MB"] / wall["C compose 5 MB"],
            ),
            (
                "before: (peak RSS 5 MB - baseline) / file size",
                (rss["before: set-image 5 MB"] - before_base) / sizes["5 MB"],
            ),
        ]
    for label, ratio in ratios:
        print(f"    {label:<56} {ratio:6.2f}x")


if __name__ == "__main__":
    main()
