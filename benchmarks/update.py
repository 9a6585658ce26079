"""Figures for `promoter update` (BENCHMARKS.md, "update").

A local docker-registry (access log on) holds 50 image repositories with 100 tags each (semantic versions
1.0.0 ... 1.18.3, pre-releases, `_` builds, `latest`, `main-<sha>`); an env repo's staging branch has 200
apps (4 per repository, one values file each, `update: {strategy: semver, constraint: ...}`). Times, side by
side and alternating:

  promoter  `promoter update staging --dry-run -o json` (a subprocess, as a CI job runs it): the whole plan
            and the diff; registry calls from its report and from the registry's access log
  push      `promoter update staging`: the same, and one commit with every app pushed (on a fresh copy of
            the env repo each time)
  naive     a loop that lists the tags once per app (200 `tags/list` calls) and picks the highest version
            with semantic_version; how many apps a string sort of the tags would have got wrong

Prints medians and ratios. The registry's storage is built once and kept in benchmarks/.work/update-registry.

    python3 benchmarks/update.py [--runs 5] [--repos 50] [--tags 100] [--apps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work"
sys.path.insert(0, str(ROOT.parent))

from tests.support.gitrepos import make_remote  # noqa: E402
from tests.support.registry import access_lines, push_image, run_registry  # noqa: E402

CONSTRAINTS = ("^1", "~1.7", ">=1.2 <1.15", "*")


def tag_names(count: int) -> list[str]:
    """``count`` tags: mostly versions (1.9 and 1.10 both there), some pre-releases, builds and others."""
    tags = ["latest", "main-3f2a1b", "1.10.0-rc.1", "1.18.0-beta.2", "1.2.3_2", "1.2.3_10"]
    minor, patch = 0, 0
    while len(tags) < count:
        tags.append(f"1.{minor}.{patch}")
        patch += 1
        if patch == 5:
            minor, patch = minor + 1, 0
    return tags[:count]


def push_repository(base_url: str, name: str, tags: list[str]) -> None:
    import requests

    with requests.Session() as http:
        for index, tag in enumerate(tags):
            created = f"2026-11-01T00:{index // 60:02d}:{index % 60:02d}Z"
            push_image(base_url, name, tag, created=created, session=http)


def fill_registry(base_url: str, repos: int, tags: int, marker: Path) -> None:
    if marker.exists() and marker.read_text() == f"{repos}x{tags}":
        return
    started = time.monotonic()
    names = tag_names(tags)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: push_repository(base_url, f"bench/repo{n:02d}", names), range(repos)))
    marker.write_text(f"{repos}x{tags}")
    print(f"pushed {repos} repositories x {tags} tags in {time.monotonic() - started:.0f} s", file=sys.stderr)


def env_repo(directory: Path, host: str, apps: int, repos: int) -> tuple[Path, Path]:
    files = {
        f"apps/app{i:03d}.yaml": f"image:\n  repository: {host}/bench/repo{i % repos:02d}\n  tag: '1.0.0'  # app {i}\n"
        for i in range(apps)
    }
    bare = make_remote(directory, files, branches=("staging",), name="seed.git")
    config = directory / "promoter.yaml"
    lines = ["version: 1", "environments: {staging: {branch: staging}}", "apps:"]
    for i in range(apps):
        constraint = CONSTRAINTS[i % len(CONSTRAINTS)]
        lines.append(
            f"  app{i:03d}: {{image: '{host}/bench/repo{i % repos:02d}', files: [apps/app{i:03d}.yaml],"
            f" update: {{strategy: semver, constraint: '{constraint}'}}}}"
        )
    config.write_text("\n".join(lines) + "\n")
    return bare, config


def promoter(config: Path, repo: Path, *args: str) -> tuple[float, dict[str, object]]:
    env = dict(os.environ, PROMOTER_PROGRESS_INTERVAL="3600")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "promoter", "--config", str(config), "--repo", str(repo), "-o", "json", "update", *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"promoter update failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
        )
    return elapsed, json.loads(done.stdout)


def naive(base_url: str, apps: int, repos: int) -> tuple[float, int, int]:
    """List per app, pick with semantic_version; also count where a string sort picks another tag."""
    import requests
    import semantic_version

    started = time.perf_counter()
    calls = wrong = 0
    with requests.Session() as http:
        for i in range(apps):
            tags = http.get(f"{base_url}/v2/bench/repo{i % repos:02d}/tags/list", timeout=30).json()["tags"]
            calls += 1
            spec = semantic_version.NpmSpec(CONSTRAINTS[i % len(CONSTRAINTS)])
            versions = []
            for tag in tags:
                try:
                    versions.append((semantic_version.Version(tag.replace("_", "+")), tag))
                except ValueError:
                    continue
            matching = [pair for pair in versions if spec.match(pair[0])]
            best = max(matching)[1] if matching else None
            by_text = max((tag for _, tag in matching), default=None)
            wrong += by_text != best
    return time.perf_counter() - started, calls, wrong


def libraries(tags: list[str], rounds: int = 200) -> list[str]:
    """npm ranges over one repository's tags: semantic-version's NpmSpec (what promoter uses) next to
    node-semver (a port of npm's own), when installed: the same answers, the time per choice, and what each
    says about a range that is not one."""
    import timeit

    import semantic_version

    lines = []
    versions = [
        semantic_version.Version(t.replace("_", "+")) for t in tags if t[0].isdigit() and "-" not in t[:1]
    ]
    started = timeit.timeit(
        lambda: [semantic_version.NpmSpec(c).select(versions) for c in CONSTRAINTS], number=rounds
    )
    lines.append(
        f"semantic-version NpmSpec: {started / rounds / len(CONSTRAINTS) * 1000:.2f} ms per choice over {len(versions)} versions"
    )
    try:
        import nodesemver
    except ImportError:
        return [*lines, "node-semver not installed (pip install node-semver to compare)"]
    texts = [str(v) for v in versions]
    took = timeit.timeit(
        lambda: [nodesemver.max_satisfying(texts, c, loose=False) for c in CONSTRAINTS], number=rounds
    )
    lines.append(f"node-semver max_satisfying: {took / rounds / len(CONSTRAINTS) * 1000:.2f} ms per choice")
    same = all(
        str(semantic_version.NpmSpec(c).select(versions))
        == str(nodesemver.max_satisfying(texts, c, loose=False))
        for c in CONSTRAINTS
    )
    lines.append(f"same choices: {same}")
    try:
        semantic_version.NpmSpec("^1.x.y")
        bad = "accepted"
    except ValueError:
        bad = "ValueError"
    lines.append(
        f"'^1.x.y': semantic-version {bad}, node-semver {nodesemver.max_satisfying(texts, '^1.x.y', loose=False)!r}"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--tags", type=int, default=100)
    parser.add_argument("--apps", type=int, default=200)
    options = parser.parse_args()

    store = WORK / "update-registry"
    store.mkdir(parents=True, exist_ok=True)
    with run_registry(store, access_log=True) as registry, tempfile.TemporaryDirectory() as scratch:
        fill_registry(registry.base_url, options.repos, options.tags, store / "filled")
        seed, config = env_repo(Path(scratch), registry.host, options.apps, options.repos)
        times: dict[str, list[float]] = {"promoter": [], "push": [], "naive": []}
        calls: dict[str, list[int]] = {"report": [], "log": [], "push": [], "naive": []}
        moved = wrong = 0
        for run in range(options.runs):
            before = len(access_lines(registry, "GET /v2/"))
            elapsed, report = promoter(config, seed, "staging", "--dry-run")
            times["promoter"].append(elapsed)
            calls["report"].append(report["registry_calls"]["total"])  # type: ignore[index]
            calls["log"].append(len(access_lines(registry, "GET /v2/")) - before)
            moved = sum(row["status"] == "update" for row in report["plan"])  # type: ignore[union-attr]

            target = Path(scratch) / f"env-{run}.git"
            shutil.copytree(seed, target)
            elapsed, report = promoter(config, target, "staging")
            times["push"].append(elapsed)
            calls["push"].append(report["registry_calls"]["total"])  # type: ignore[index]
            assert report["result"] == "changed", report["result"]

            elapsed, count, wrong = naive(registry.base_url, options.apps, options.repos)
            times["naive"].append(elapsed)
            calls["naive"].append(count)
            print(f"run {run + 1}: promoter {times['promoter'][-1]:.2f} s, push {times['push'][-1]:.2f} s, "
                  f"naive {times['naive'][-1]:.2f} s", file=sys.stderr)  # fmt: skip

    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{options.apps} apps over {options.repos} repositories x {options.tags} tags, {options.runs} runs, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"apps that move: {moved}; a string sort of the tags would pick another tag for {wrong} apps")
    print("| run | median wall | registry calls |")
    print("|---|---|---|")
    print(f"| `update --dry-run` | {median['promoter']:.2f} s | {statistics.median(calls['report'])} "
          f"(access log: {statistics.median(calls['log'])}) |")  # fmt: skip
    print(f"| `update` (one commit, pushed) | {median['push']:.2f} s | {statistics.median(calls['push'])} |")
    print(
        f"| naive loop, a listing per app (no env repo) | {median['naive']:.2f} s | {statistics.median(calls['naive'])} |"
    )
    print(
        f"ratio naive calls / promoter calls: {statistics.median(calls['naive']) / statistics.median(calls['report']):.1f}x"
    )
    print("\n".join(libraries(tag_names(options.tags))))


if __name__ == "__main__":
    main()
