"""``promote staging production`` of 200 apps versus 1 app: wall time and forge API calls, same run.

A local bare env repo (branch per environment, one ``apps/<name>/values.yaml`` per app) is built fresh
before every measured run (setup not timed). Production has ``approval: true``, so each run pushes one
commit to ``promoter/promote-staging-to-production`` and opens one merge request; the GitLab API is a
``responses`` double that counts the calls (with one 3-page listing of open requests, so pagination shows
up in the count). Runs of both sizes are interleaved; medians are printed with the ratio.

    python3 benchmarks/promote.py [--apps 200] [--rounds 5] [--layout file-per-app|one-file]

``one-file``: one app-of-apps ``values.yaml`` with a block per app (``apps.<name>.image.tag``).
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


def main() -> None:
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
