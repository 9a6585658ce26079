"""``promote staging production`` of 200 apps versus 1 app: wall time and forge API calls, same run;
``gates``: a gated promote and ``history`` on a 5,000-commit env repo next to the ungated promote.

A local bare env repo (branch per environment, one ``apps/<name>/values.yaml`` per app) is built fresh
before every measured run (setup not timed). Production has ``approval: true``, so each run pushes one
commit to ``promoter/promote-staging-to-production`` and opens one merge request; the GitLab API is a
``responses`` double that counts the calls (with one 3-page listing of open requests, so pagination shows
up in the count). Runs of both sizes are interleaved; medians are printed with the ratio.

    python3 benchmarks/promote.py [--apps 200] [--rounds 5] [--layout file-per-app|one-file]
    python3 benchmarks/promote.py gates [--rounds 5]

``one-file``: one app-of-apps ``values.yaml`` with a block per app (``apps.<name>.image.tag``).

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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MRS = "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments/merge_requests"
VALUES = 'image:\n  repository: registry.example.com/acme/{name}\n  tag: "{tag}"  # promoter\nreplicas: 2\n'


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


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


def config_text(apps: int, layout: str) -> str:
    lines = [
        "version: 1",
        'forge: {type: gitlab, url: "https://gitlab.example.com", project: acme/environments}',
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


def run_once(apps: int, layout: str = "file-per-app") -> tuple[float, int, int]:
    """(seconds, forge API calls, commits on the approval branch) for one promote of ``apps`` apps."""
    import responses

    from promoter.ci import CiContext
    from promoter.config import parse_config
    from promoter.workflows.promote import PromoteOptions, promote
    from promoter.workflows.session import Session

    with tempfile.TemporaryDirectory(prefix="promoter-bench-") as tmp:
        bare = make_repo(Path(tmp), apps, layout)
        session = Session(
            config=parse_config(config_text(apps, layout), "promoter.yaml"),
            repo_url=str(bare),
            ci=CiContext(),
            environ={**os.environ, "PROMOTER_TOKEN": "glpat-benchmark-token"},
        )
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            others = [_mr(n, f"feature/{n}", "staging") for n in range(1, 251)]
            for page in range(3):  # the gate's listing: 250 unrelated open requests, 3 pages
                url = MRS if page == 0 else f"{MRS}?page={page + 1}"
                headers = {"Link": f'<{MRS}?page={page + 2}>; rel="next"'} if page < 2 else {}
                api.get(url, json=others[page * 100 : (page + 1) * 100], headers=headers)
            api.get(MRS, json=[])
            api.post(MRS, status=201, json=_mr(300, "promoter/promote-staging-to-production", "production"))
            began = time.perf_counter()
            result = promote(session, PromoteOptions("staging", "production"))
            elapsed = time.perf_counter() - began
            calls = len(api.calls)
        assert result.delivery.result == "mr" and len(result.apps) == apps, result.delivery
        count = subprocess.run(
            ["git", "rev-list", "--count", "production..promoter/promote-staging-to-production"],
            cwd=bare,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return elapsed, calls, int(count)


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
        "web_url": f"https://gitlab.example.com/acme/environments/-/merge_requests/{iid}",
    }


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
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--layout", choices=["file-per-app", "one-file"], default="file-per-app")
    args = parser.parse_args()
    sizes = (1, args.apps)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    calls: dict[int, set[int]] = {size: set() for size in sizes}
    commits: dict[int, set[int]] = {size: set() for size in sizes}
    run_once(1, args.layout)  # warm-up: imports, page cache
    print(f"layout: {args.layout}")
    for _ in range(args.rounds):
        for size in sizes:
            elapsed, made, count = run_once(size, args.layout)
            times[size].append(elapsed)
            calls[size].add(made)
            commits[size].add(count)
    print(f"{'apps':>6}  {'median s':>9}  {'min s':>7}  {'API calls':>9}  {'commits':>7}")
    for size in sizes:
        print(
            f"{size:>6}  {statistics.median(times[size]):>9.3f}  {min(times[size]):>7.3f}  "
            f"{','.join(map(str, sorted(calls[size]))):>9}  {','.join(map(str, sorted(commits[size]))):>7}"
        )
    ratio = statistics.median(times[args.apps]) / statistics.median(times[1])
    verdict = "met" if ratio <= 2 else "missed"
    print(f"ratio {args.apps} apps / 1 app: {ratio:.2f}x (target <= 2x: {verdict})")
    same = calls[1] == calls[args.apps]
    print(f"API calls {'do not grow' if same else 'GROW'} with the number of apps")


if __name__ == "__main__":
    main()
