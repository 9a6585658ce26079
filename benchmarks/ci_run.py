"""Time ``.ci/run`` end to end as CI runs it: a fresh clone, a venv with nothing in it, no input.

    python3 benchmarks/ci_run.py [--runs N] [--keep] REF [REF ...]

For each run and each REF in turn (interleaved, so a change in the machine's load falls on every REF
alike): ``git clone`` this repository into a temporary directory, check out REF, create an empty venv with
``python3 -m venv``, and run ``bash -x .ci/run`` there with ``CI=true``, the venv first on ``PATH`` and no
standard input. The trace's time stamps give the phases:

- setup: from the start to the first pytest command (package installs, npm tools, ruff, mypy);
- lowest: the unit tests on the lowest dependency versions (until the next command);
- suite: the whole suite (until the end).

Per REF it prints the median of each phase and of the total, the exit status and the pytest summary
lines, and the machine's mean 1-minute load average while the runs went on (other work on the machine
slows every phase; compare REFs measured in the same invocation only).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Read by bash at start (BASH_ENV): a time stamp on every traced command, and no BASH_ENV for the children.
_TRACE_SETUP = "PS4='+[$(date +%s.%N)] '\nunset BASH_ENV\n"
_TRACED = re.compile(r"^\+\[(\d+\.\d+)\] (.*)$")
_SUMMARY = re.compile(r"^(\d+ (passed|failed).*) in [\d.]+s")


@dataclass
class Run:
    ref: str
    status: int
    total: float
    phases: dict[str, float]
    summaries: list[str]
    load: float


@dataclass
class LoadSampler:
    """The 1-minute load average, sampled every 5 s while a run goes on."""

    samples: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> LoadSampler:
        def sample() -> None:
            while not self._stop.wait(5):
                self.samples.append(os.getloadavg()[0])

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else os.getloadavg()[0]


def phases(trace: list[tuple[float, str]], start: float, end: float) -> dict[str, float]:
    tests = [i for i, (_, command) in enumerate(trace) if " -m pytest " in f"{command} "]
    if len(tests) < 2:
        return {"setup": (trace[tests[0]][0] if tests else end) - start}
    lowest, suite = tests[0], tests[-1]
    after_lowest = trace[lowest + 1][0] if lowest + 1 < len(trace) else end
    return {
        "setup": trace[lowest][0] - start,
        "lowest": after_lowest - trace[lowest][0],
        "suite": end - trace[suite][0],
    }


def run_once(ref: str, keep: bool) -> Run:
    work = Path(tempfile.mkdtemp(prefix="ci-run-"))
    clone, venv = work / "clone", work / "venv"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", ref], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (work / "trace.sh").write_text(_TRACE_SETUP)
    env = dict(os.environ, CI="true", BASH_ENV=str(work / "trace.sh"))
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env.pop("VIRTUAL_ENV", None)
    log = work / "ci.log"
    print(f"{datetime.now():%H:%M:%S} {ref}: .ci/run in {clone} (log {log})", flush=True)
    with LoadSampler() as load, log.open("w") as out:
        start = time.time()
        done = subprocess.run(
            ["bash", "-x", ".ci/run"],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            check=False,
        )
        end = time.time()
    lines = log.read_text(errors="replace").splitlines()
    trace = [(float(m[1]), m[2]) for line in lines if (m := _TRACED.match(line))]
    summaries = [m[1] for line in lines if (m := _SUMMARY.search(line.strip("= ")))]
    if not keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return Run(ref, done.returncode, end - start, phases(trace, start, end), summaries, load.mean)


def report(runs: list[Run], refs: list[str]) -> None:
    names = ["setup", "lowest", "suite"]
    print(f"\n| ref | runs | total (median) | {' | '.join(names)} | exit | mean load | pytest |")
    print(f"|---|---|---|{'---|' * len(names)}---|---|---|")
    for ref in refs:
        mine = [run for run in runs if run.ref == ref]
        total = statistics.median(run.total for run in mine)
        cells = []
        for name in names:
            values = [run.phases[name] for run in mine if name in run.phases]
            cells.append(f"{statistics.median(values):.0f} s" if values else "-")
        statuses = ",".join(str(run.status) for run in mine)
        load = statistics.fmean(run.load for run in mine)
        summaries = "; ".join(mine[-1].summaries)
        print(
            f"| {ref} | {len(mine)} | {total:.0f} s | {' | '.join(cells)} | {statuses} | {load:.1f} | "
            f"{summaries} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("refs", nargs="+", metavar="REF", help="commits to time (branch, tag or hash)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each REF (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the clones, venvs and logs")
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        for ref in args.refs:
            run = run_once(ref, args.keep)
            print(f"  {run.total:.0f} s, exit {run.status}, load {run.load:.1f}, {run.phases}", flush=True)
            runs.append(run)
    report(runs, args.refs)


if __name__ == "__main__":
    main()
