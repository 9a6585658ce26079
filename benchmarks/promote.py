"""``promote staging production`` of hundreds of apps next to a one-app ``bump`` on the same env repo;
``gates``: a gated promote and ``history`` on a 5,000-commit env repo next to the ungated promote.

A local bare env repo (branch per environment; ``--apps`` apps, each with one file ``apps/<name>/values.yaml``,
or every app in one shared ``values.yaml``) is built once per layout; before every run the review branches
are deleted, so each run starts from the same state. Production has ``approval: true``: every run pushes one
commit to a review branch (``promoter/promote-staging-to-production``, ``promoter/production/app000``) and
opens one merge request on a loopback fake of the GitLab API, which counts the calls (the promote's gate
reads a 3-page listing of 250 unrelated open requests, so pagination shows up in the count).

Scenarios, run interleaved, medians:

  promote N   ``promoter promote staging production`` (every app)
  promote 1   the same with ``--app app000``
  bump 1      ``promoter bump production --app app000 --tag 2.0.0 --no-verify-image``: the baseline

1. As a CI job runs them: each a fresh ``promoter`` process (interpreter, imports, config, workflow), wall
   time and peak RSS (``os.wait4`` of a small launcher's child). Git child processes are counted once per
   scenario from git's trace2 events (top-level processes only).
2. As a library: one long-lived process per source tree, after a warm-up run of each scenario, times the
   workflow calls alone (``promote(...)`` / ``bump(...)``, config parsed once).

``--before DIR`` adds the same scenarios for another promoter source tree (e.g. ``git archive`` of an older
commit) in the same rounds. ``--profile cprofile|pyinstrument`` prints a profile of one warm ``promote N``.

    python3 benchmarks/promote.py [--apps 500] [--runs 5] [--layout both|file-per-app|one-file]
                                  [--before DIR] [--profile cprofile|pyinstrument]
    python3 benchmarks/promote.py gates [--rounds 5]

``gates``: an env repo built with ``git fast-import``: 200 apps (``apps/<name>/values.yaml``) and 2,000
other files; staging has 5,000 commits, one a minute up to a minute ago, each setting one app's version
(promoter's commits with their trailers; every tenth a person's commit without any). Timed as CI runs it
(a ``promoter`` process each), interleaved, production reset between runs:

  ungated         promote staging production (no soak)
  gated           the same with ``soak: 2m`` and freeze windows that are not in force: the soak walk,
                  then (nearly) the same promotion
  gated, soak 1h  apps set in the last hour are skipped and listed (less to write, more history to read)
  history         history staging (the newest 20 changes), and history staging --limit 0 (all 5,000)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve()
SOURCE = HERE.parent.parent
PROJECT = "acme/environments"
MRS_PATH = "/api/v4/projects/acme%2Fenvironments/merge_requests"
VALUES = 'image:\n  repository: registry.example.com/acme/{name}\n  tag: "{tag}"  # promoter\nreplicas: 2\n'
PROMOTE_BRANCH = "promoter/promote-staging-to-production"
BUMP_BRANCH = "promoter/production/app000"
KINDS = ("promote", "promote-one", "bump")


# -- the env repo ---------------------------------------------------------------------------------------------
def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, apps: int, layout: str) -> Path:
    bare, seed = root / "env.git", root / "seed"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    subprocess.run(["git", "init", "-q", "-b", "production", str(seed)], check=True)
    for tag, branch in (("1.0.0", "production"), ("1.1.0", "staging")):
        if layout == "one-file":
            blocks = [
                _indent(f"app{n:03d}:\n" + _indent(VALUES.format(name=f"app{n:03d}", tag=tag)))
                for n in range(apps)
            ]
            (seed / "values.yaml").write_text("apps:\n" + "".join(blocks))
        for n in range(apps if layout == "file-per-app" else 0):
            path = seed / "apps" / f"app{n:03d}" / "values.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(VALUES.format(name=f"app{n:03d}", tag=tag))
        git("add", "-A", cwd=seed)
        git("commit", "-q", "-m", branch, cwd=seed)
        git("push", "-q", str(bare), f"HEAD:refs/heads/{branch}", cwd=seed)
    git("symbolic-ref", "HEAD", "refs/heads/production", cwd=bare)
    return bare


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())


def config_text(apps: int, layout: str, forge_url: str) -> str:
    lines = [
        "version: 1",
        f'forge: {{type: gitlab, url: "{forge_url}", project: {PROJECT}}}',
        "environments:",
        "  staging: {branch: staging}",
        "  production: {branch: production, approval: true, labels: [promotion]}",
        "apps:",
    ]
    for n in range(apps):
        lines.append(f"  app{n:03d}:")
        lines.append(f"    image: registry.example.com/acme/app{n:03d}")
        if layout == "one-file":
            lines.append(f"    files: [{{file: values.yaml, key: apps.app{n:03d}.image.tag}}]")
        else:
            lines.append(f"    files: [{{file: apps/app{n:03d}/values.yaml, key: image.tag}}]")
    return "\n".join(lines) + "\n"


def reset(bare: Path) -> None:
    """Delete the review branches, so the next run starts where the first one did."""
    for branch in (PROMOTE_BRANCH, BUMP_BRANCH):
        subprocess.run(["git", "update-ref", "-d", f"refs/heads/{branch}"], cwd=bare, check=False)


# -- a loopback GitLab: merge request listing (paginated), look-up by branch, creation ------------------------
def _mr(iid: int, source: str, target: str) -> dict[str, object]:
    return {
        "id": 1000 + iid,
        "iid": iid,
        "title": f"request {iid}",
        "description": "",
        "state": "opened",
        "source_branch": source,
        "target_branch": target,
        "source_project_id": 1,
        "target_project_id": 1,
        "labels": [],
        "web_url": f"https://gitlab.example.com/{PROJECT}/-/merge_requests/{iid}",
    }


class FakeGitLab(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.calls: list[str] = []
        self.unknown: list[str] = []
        self.others = [_mr(n, f"feature/{n}", "staging") for n in range(1, 251)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeGitLab

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self.server.calls.append(f"GET {parts.path}")
        if parts.path != MRS_PATH:
            self.server.unknown.append(self.path)
            self._send(404, {"message": "404 Not found"})
        elif "source_branch" in query:
            self._send(200, [])  # the review branch has no open request yet
        else:
            page = int(query.get("page", ["1"])[0])
            items = self.server.others[(page - 1) * 100 : page * 100]
            headers = {}
            if page < 3:
                following = f"{self.server.url}{MRS_PATH}?state=opened&per_page=100&page={page + 1}"
                headers["Link"] = f'<{following}>; rel="next"'
            self._send(200, items, headers)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        self.server.calls.append(f"POST {parts.path}")
        length = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(length) or b"{}") if length else {}
        if parts.path != MRS_PATH:
            self.server.unknown.append(self.path)
            self._send(404, {"message": "404 Not found"})
            return
        self._send(201, _mr(300, str(data.get("source_branch")), str(data.get("target_branch"))))


@contextlib.contextmanager
def fake_gitlab() -> Iterator[FakeGitLab]:
    server = FakeGitLab()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# -- 1. fresh processes -----------------------------------------------------------------------------------------
def cli_args(kind: str) -> list[str]:
    if kind == "bump":
        return ["bump", "production", "--app", "app000", "--tag", "2.0.0", "--no-verify-image"]
    return ["promote", "staging", "production", *(["--app", "app000"] if kind == "promote-one" else [])]


def run_cli(
    source: Path, config: Path, bare: Path, kind: str, trace: Path | None = None
) -> tuple[float, int]:
    """Wall time (s) and peak RSS (KiB) of one ``promoter`` process."""
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "PROMOTER_TOKEN": "glpat-benchmark-token",
    }
    if trace is not None:
        env["GIT_TRACE2_EVENT"] = str(trace)
    # -P: the working directory must not come before PYTHONPATH on sys.path
    command = [sys.executable, "-P", "-m", "promoter", "--config", str(config), "--repo", str(bare)]
    launcher = (
        "import os, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "err = child.stderr.read()\n"
        "_, status, usage = os.wait4(child.pid, 0)\n"
        "print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n"
        "sys.stderr.write(err.decode())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", launcher, *command, *cli_args(kind)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed, peak, code = done.stdout.split()
    if code != "0":
        raise SystemExit(f"promoter {kind} failed ({code}):\n{done.stderr}")
    return float(elapsed), int(peak)


def git_processes(trace: Path) -> int:
    """Top-level git processes in a trace2 event file (a child of git has a ``/`` in its session id)."""
    sids = set()
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "start" and "/" not in event["sid"]:
            sids.add(event["sid"])
    return len(sids)


# -- 2. a long-lived process (library use) ----------------------------------------------------------------------
def library(spec: dict[str, Any]) -> None:
    """Warm-up, then every scenario ``runs`` times interleaved; print {kind: [seconds, ...]} as JSON."""
    sys.path.insert(0, str(spec["source"]))
    from promoter.ci import CiContext
    from promoter.config import parse_config
    from promoter.workflows.bump import BumpOptions, bump
    from promoter.workflows.promote import PromoteOptions, promote
    from promoter.workflows.session import Session

    bare = Path(spec["repo"])
    session = Session(
        config=parse_config(Path(spec["config"]).read_text(), "promoter.yaml"),
        repo_url=str(bare),
        ci=CiContext(),
        environ={**os.environ, "PROMOTER_TOKEN": "glpat-benchmark-token"},
    )

    def once(kind: str) -> float:
        reset(bare)
        began = time.perf_counter()
        if kind == "bump":
            result: Any = bump(
                session, BumpOptions("production", app="app000", tag="2.0.0", verify_image=False)
            )
        else:
            names = ("app000",) if kind == "promote-one" else ()
            result = promote(session, PromoteOptions("staging", "production", apps=names))
        elapsed = time.perf_counter() - began
        assert result.delivery.result == "mr", result.delivery
        return elapsed

    if spec.get("profile"):
        once("promote")
        profile(spec["profile"], lambda: once("promote"))
        return
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        once(kind)
    for _ in range(int(spec["runs"])):
        for kind in KINDS:
            samples[kind].append(once(kind))
    print(json.dumps(samples))


def profile(kind: str, call: Any) -> None:
    if kind == "pyinstrument":
        from pyinstrument import Profiler

        sampler = Profiler(interval=0.0005)
        sampler.start()
        call()
        sampler.stop()
        print(sampler.output_text(color=False), file=sys.stderr)
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(25)


def run_library(spec: dict[str, Any]) -> dict[str, list[float]]:
    done = subprocess.run(
        [sys.executable, str(HERE), "--library", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=None if spec.get("profile") else subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"library run failed:\n{done.stderr}")
    if spec.get("profile"):
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- the driver ------------------------------------------------------------------------------------------------
def measure(layout: str, apps: int, runs: int, before: Path | None, profile_with: str | None) -> None:
    sources = {"": SOURCE} | ({"before: ": before.resolve()} if before is not None else {})
    labels = {"promote": f"promote {apps}", "promote-one": "promote 1", "bump": "bump 1"}
    with tempfile.TemporaryDirectory(prefix="promoter-bench-") as tmp, fake_gitlab() as forge:
        bare = make_repo(Path(tmp), apps, layout)
        config = Path(tmp) / "promoter.yaml"
        config.write_text(config_text(apps, layout, forge.url))
        scenarios = [(prefix, kind) for prefix in sources for kind in KINDS]
        processes: dict[tuple[str, str], int] = {}
        calls: dict[tuple[str, str], int] = {}
        for prefix, kind in scenarios:  # warm-up (page cache), git processes and API calls
            reset(bare)
            trace = Path(tmp) / "trace.json"
            trace.unlink(missing_ok=True)
            forge.calls.clear()
            run_cli(sources[prefix], config, bare, kind, trace)
            processes[prefix, kind] = git_processes(trace)
            calls[prefix, kind] = len(forge.calls)
        samples: dict[tuple[str, str], list[tuple[float, int]]] = {key: [] for key in scenarios}
        for _ in range(runs):
            for prefix, kind in scenarios:
                reset(bare)
                samples[prefix, kind].append(run_cli(sources[prefix], config, bare, kind))
        warm = {
            prefix: run_library(
                {"source": str(source), "repo": str(bare), "config": str(config), "runs": runs}
            )
            for prefix, source in sources.items()
        }
        if profile_with:
            print(f"\nprofile ({profile_with}): one warm promote of {apps} apps ({layout})", flush=True)
            spec = {"source": str(SOURCE), "repo": str(bare), "config": str(config), "profile": profile_with}
            run_library({**spec, "runs": 1})
        unknown = list(forge.unknown)
    if unknown:
        raise SystemExit(f"the fake GitLab was asked for what it does not know: {unknown[:5]}")
    print(f"\nlayout {layout}: {apps} apps; median of {runs} runs; load average {os.getloadavg()[0]:.1f}")
    print("  fresh promoter processes (as a CI job runs them):")
    print(
        f"  {'scenario':<24} {'median s':>9} {'min s':>7} {'peak RSS':>9} {'API calls':>9} {'git procs':>9}"
    )
    wall: dict[tuple[str, str], float] = {}
    for key, values in samples.items():
        prefix, kind = key
        wall[key] = statistics.median(seconds for seconds, _ in values)
        peak = statistics.median(kib for _, kib in values) / 1024
        print(
            f"  {prefix + labels[kind]:<24} {wall[key]:>9.3f} {min(s for s, _ in values):>7.3f} "
            f"{peak:>6.1f} MB {calls[key]:>9} {processes[key]:>9}"
        )
    for prefix in sources:
        many, one, base = (wall[prefix, kind] for kind in KINDS)
        verdict = "met" if many <= 2 * base else "missed"
        print(
            f"  {prefix}promote {apps} / bump 1: {many / base:.2f}x (target <= 2x: {verdict}); "
            f"promote {apps} / promote 1: {many / one:.2f}x; API calls "
            f"{'do not grow' if calls[prefix, 'promote'] == calls[prefix, 'promote-one'] else 'GROW'}"
        )
    print("  one long-lived process, workflow calls only (after a warm-up):")
    for prefix, found in warm.items():
        median = {kind: statistics.median(found[kind]) for kind in KINDS}
        shown = ", ".join(f"{labels[kind]} {median[kind]:.3f} s" for kind in KINDS)
        print(
            f"  {prefix}{shown}; promote {apps} / bump 1: {median['promote'] / median['bump']:.2f}x, "
            f"promote {apps} / promote 1: {median['promote'] / median['promote-one']:.2f}x"
        )


# -- gates ------------------------------------------------------------------------------------------------
GATES_APPS = 200
GATES_COMMITS = 5_000
GATES_FILLER = 2_000


def build_history_repo(root: Path) -> Path:
    """The 5,000-commit env repo (see the module docstring); returns the bare repository."""
    bare = root / "env.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    out = proc.stdin

    def data(text: str) -> None:
        raw = text.encode()
        out.write(f"data {len(raw)}\n".encode() + raw + b"\n")

    now = int(time.time())
    start = now - 60 * (GATES_COMMITS + 1)
    out.write(b"commit refs/heads/production\n")
    out.write(f"committer Seed <seed@example.com> {start} +0000\n".encode())
    data("initial\n")
    for n in range(GATES_APPS):
        out.write(f"M 100644 inline apps/app{n:03d}/values.yaml\n".encode())
        data(VALUES.format(name=f"app{n:03d}", tag="1.0.0"))
    for n in range(GATES_FILLER):
        out.write(f"M 100644 inline other/{n // 100:02d}/file{n:04d}.yaml\n".encode())
        data(f"name: file{n}\nvalue: {n * 7919}\n")
    out.write(b"reset refs/heads/staging\nfrom refs/heads/production\n\n")
    for number in range(1, GATES_COMMITS + 1):
        app = f"app{(number * 7919) % GATES_APPS:03d}"
        tag = f"1.{number}.0"
        out.write(b"commit refs/heads/staging\n")
        if number % 10 == 0:
            out.write(f"committer Pat Person <pat@example.com> {start + 60 * number} +0000\n".encode())
            data(f"{app}: {tag} by hand\n")
        else:
            out.write(f"committer promoter <promoter@example.com> {start + 60 * number} +0000\n".encode())
            data(
                f"{app}: staging -> {tag}\n\n- {app}: -> {tag}\n\nPromoter-App: {app}\nPromoter-Env: staging\n"
                f"Promoter-Image: registry.example.com/acme/{app}:{tag}\nPromoter-Versions: {app}={tag}\n"
                f"Promoter-Pipeline: {100000 + number}\n"
            )
        out.write(f"M 100644 inline apps/{app}/values.yaml\n".encode())
        data(VALUES.format(name=app, tag=tag))
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    git("symbolic-ref", "HEAD", "refs/heads/production", cwd=bare)
    return bare


def gates_config(soak: str | None) -> str:
    lines = [
        "version: 1",
        "environments:",
        "  staging: {branch: staging}",
        "  production:",
        "    branch: production",
    ]
    if soak is not None:
        lines += [
            "    freeze:",
            "      - {from: '2020-12-20T00:00:00+01:00', until: '2021-01-04T00:00:00+01:00', reason: long ago}",
            "      - {days: [sun], start: '00:00', end: '00:01', timezone: Europe/Berlin, reason: a minute}",
        ]
    lines.append("apps:")
    for n in range(GATES_APPS):
        lines.append(f"  app{n:03d}:")
        lines.append(f"    image: registry.example.com/acme/app{n:03d}")
        lines.append(f"    files: [{{file: apps/app{n:03d}/values.yaml, key: image.tag}}]")
    lines += ["promotion:", "  - from: staging", "    to: production"]
    if soak is not None:
        lines.append(f"    soak: {soak}")
    return "\n".join(lines) + "\n"


def timed(args: list[str]) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[-4:])} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout


def gates_main(rounds: int) -> None:
    import json

    promoter = str(Path(sys.executable).with_name("promoter"))
    with tempfile.TemporaryDirectory(prefix="promoter-bench-gates-") as tmp:
        root = Path(tmp)
        began = time.perf_counter()
        bare = build_history_repo(root)
        print(f"built {GATES_COMMITS} commits in {time.perf_counter() - began:.1f} s (not timed below)")
        production = subprocess.run(
            ["git", "rev-parse", "refs/heads/production"],
            cwd=bare,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        configs = {}
        for name, soak in (("ungated", None), ("gated", "2m"), ("soak1h", "1h")):
            configs[name] = root / f"{name}.yaml"
            configs[name].write_text(gates_config(soak))
        base = [promoter, "--repo", str(bare), "--output", "json"]
        runs = {
            "ungated promote": [
                *base,
                "--config",
                str(configs["ungated"]),
                "promote",
                "staging",
                "production",
            ],
            "gated promote": [*base, "--config", str(configs["gated"]), "promote", "staging", "production"],
            "gated, soak 1h": [*base, "--config", str(configs["soak1h"]), "promote", "staging", "production"],
            "history (newest 20)": [*base, "--config", str(configs["gated"]), "history", "staging"],
            "history --limit 0": [
                *base,
                "--config",
                str(configs["gated"]),
                "history",
                "staging",
                "--limit",
                "0",
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        facts: dict[str, str] = {}
        timed(runs["history (newest 20)"])  # warm-up: imports, page cache
        for _ in range(rounds):
            for name, args in runs.items():
                elapsed, out = timed(args)
                times[name].append(elapsed)
                data = json.loads(out)
                if "history" not in name:
                    facts[name] = f"{len(data['apps'])} apps promoted, {len(data['skipped'])} skipped"
                    git("update-ref", "refs/heads/production", production, cwd=bare)
                else:
                    facts[name] = f"{len(data['changes'])} changes, {data['commits_read']} commits read"
        base_median = statistics.median(times["ungated promote"])
        print(f"{'run':<22}{'median s':>10}{'min s':>8}{'- ungated':>11}  what it did")
        for name, values in times.items():
            median = statistics.median(values)
            print(
                f"{name:<22}{median:>10.3f}{min(values):>8.3f}{median - base_median:>+11.3f}  {facts[name]}"
            )
        for name in ("gated promote", "history (newest 20)"):
            extra = statistics.median(times[name]) - base_median
            verdict = "met" if extra < 1.0 else "missed"
            print(f"{name}: {extra:+.3f} s next to the ungated promote (target < +1 s: {verdict})")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "gates":
        parser = argparse.ArgumentParser(description="gated promote and history on 5,000 commits")
        parser.add_argument("--rounds", type=int, default=5)
        gates_main(parser.parse_args(sys.argv[2:]).rounds)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layout", choices=["both", "file-per-app", "one-file"], default="both")
    parser.add_argument("--before", type=Path, help="another promoter source tree to measure alongside")
    parser.add_argument("--profile", choices=["cprofile", "pyinstrument"], help="profile one warm promote")
    parser.add_argument("--library", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.library:
        library(json.loads(args.library))
        return
    layouts = ["file-per-app", "one-file"] if args.layout == "both" else [args.layout]
    for layout in layouts:
        measure(layout, args.apps, args.runs, args.before, args.profile)


if __name__ == "__main__":
    main()
