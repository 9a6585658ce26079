"""``preview gc`` over 1,000 preview files and 1,000 merge requests: API calls and wall time.

A real bare env repo holds 1,000 preview files on ``dynamic-envs``; a GitLab API double (``responses``,
in-process, so network latency is zero) knows 1,000 merge requests: 900 open (10 pages of 100), 50 closed
or merged, 50 gone (404). Each round resets the branch and runs ``preview_gc`` twice, alternately:

* promoter: ``Forge.list_request_states`` (one paginated listing of the open requests, then batched
  look-ups of the rest);
* baseline: the naive way, one ``GET /merge_requests/:iid`` per preview.

Both delete the same 100 files in one commit. Medians over the rounds; the API figure is exact.

    python3 benchmarks/preview.py [--files 1000] [--rounds 3] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SERVER = "https://gitlab.example.com"
MRS = f"{SERVER}/api/v4/projects/acme%2Fapi/merge_requests"
PROJECT = "acme/api"
CONFIG = """\
version: 1
forge: {type: gitlab, url: "https://gitlab.example.com", project: acme/environments}
environments: {staging: {branch: staging}}
previews: {template: manifests, ttl: 7d, max_delete: 1000}
"""


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: Path, count: int) -> tuple[Path, str]:
    from promoter.templating import PreviewContext, render_preview

    bare, seed = root / "env.git", root / "seed"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    (seed / "README.md").write_text("env repo\n")
    apps = seed / "apps"
    apps.mkdir()
    now = datetime.now(timezone.utc)
    for number in range(1, count + 1):
        ctx = PreviewContext.create(
            id=number,
            branch=f"feature/ticket-{number}",
            tag="1.0.0",
            image="registry.example.com/acme/api",
            project=PROJECT,
            ttl=timedelta(days=7),
            now=now,
        )
        (apps / f"{ctx.slug}.yaml").write_text(render_preview("manifests", ctx))
    git("add", "-A", cwd=seed)
    git("-c", "user.name=b", "-c", "user.email=b@x", "commit", "-q", "-m", "seed", cwd=seed)
    git("push", "-q", str(bare), "HEAD:refs/heads/main", "HEAD:refs/heads/dynamic-envs", cwd=seed)
    return bare, git("rev-parse", "HEAD", cwd=seed)


def states_for(count: int) -> dict[int, str]:
    """900 open, then alternately closed/merged, and the last 5 % gone (scaled to ``count``)."""
    open_count, gone_from = count * 9 // 10, count - count // 20
    states = {}
    for n in range(1, count + 1):
        if n <= open_count:
            states[n] = "opened"
        elif n <= gone_from:
            states[n] = "closed" if n % 2 else "merged"
    return states


def install_api(mock: Any, states: dict[int, str], latency: float, calls: list[str]) -> None:
    from tests.unit.forge.payloads import gitlab_mr

    open_ids = sorted(n for n, s in states.items() if s == "opened")

    def listing(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(latency)
        calls.append("list")
        query = parse_qs(urlsplit(request.url).query)
        per_page = int(query.get("per_page", ["20"])[0])
        if query.get("state") == ["opened"]:
            page = int(query.get("page", ["1"])[0])
            chunk = open_ids[(page - 1) * per_page : page * per_page]
            headers = {"X-Page": str(page), "X-Total": str(len(open_ids))}
            if page * per_page < len(open_ids):
                nxt = f"{MRS}?page={page + 1}&per_page={per_page}&state=opened"
                headers.update({"X-Next-Page": str(page + 1), "Link": f'<{nxt}>; rel="next"'})
            return 200, headers, json.dumps([gitlab_mr(n, source=f"b{n}") for n in chunk])
        iids = [int(v) for v in query.get("iids[]", [])]
        found = [gitlab_mr(n, state=states[n]) for n in iids if n in states]
        return 200, {}, json.dumps(found)

    def single(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(latency)
        calls.append("get")
        number = int(urlsplit(request.url).path.rsplit("/", 1)[1])
        if number not in states:
            return 404, {}, json.dumps({"message": "404 Not found"})
        return 200, {}, json.dumps(gitlab_mr(number, state=states[number]))

    mock.add_callback(
        "GET", re.compile(re.escape(MRS) + r"(\?.*)?$"), callback=listing, content_type="application/json"
    )
    mock.add_callback(
        "GET", re.compile(re.escape(MRS) + r"/\d+$"), callback=single, content_type="application/json"
    )


def naive_factory(session: Any) -> Any:
    from promoter.workflows.preview import default_forge_factory

    make = default_forge_factory(session)

    class OnePerRequest:
        def __init__(self, forge: Any) -> None:
            self.forge = forge

        def list_request_states(self, numbers: Any) -> dict[int, str]:
            return {n: self.forge.get_request_state(n) for n in numbers}

    return lambda project: OnePerRequest(make(project))


def run_once(session: Any, naive: bool) -> tuple[float, int]:
    from promoter.workflows.preview import preview_gc

    started = time.perf_counter()
    result = preview_gc(session, forge_factory=naive_factory(session) if naive else None)
    elapsed = time.perf_counter() - started
    return elapsed, len(result.deleted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulated API round trip")
    args = parser.parse_args()

    import os

    import responses

    from promoter.workflows.session import open_session

    with tempfile.TemporaryDirectory(prefix="promoter-bench-") as tmp:
        root = Path(tmp)
        os.environ["PROMOTER_TOKEN"] = "glpat-benchmark-token"
        bare, seed = make_repo(root, args.files)
        (root / "promoter.yaml").write_text(CONFIG)
        session = open_session(config_path=str(root / "promoter.yaml"), repo=str(bare))
        states = states_for(args.files)
        results: dict[str, list[tuple[float, int, int]]] = {"promoter": [], "baseline": []}
        for _ in range(args.rounds):
            for name in ("promoter", "baseline"):
                git("update-ref", "refs/heads/dynamic-envs", seed, cwd=bare)
                calls: list[str] = []
                with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
                    install_api(mock, states, args.latency_ms / 1000, calls)
                    elapsed, deleted = run_once(session, naive=name == "baseline")
                results[name].append((elapsed, len(calls), deleted))

    print(f"preview gc over {args.files} files / {args.files} merge requests, {args.rounds} rounds")
    print(f"simulated API latency: {args.latency_ms:.0f} ms per call")
    print("| lookup | API calls | deleted | median wall time (s) |")
    print("|---|---|---|---|")
    medians = {}
    for name, rows in results.items():
        medians[name] = statistics.median(r[0] for r in rows)
        label = "promoter (paginated + batched)" if name == "promoter" else "baseline (one GET per MR)"
        print(f"| {label} | {rows[0][1]} | {rows[0][2]} | {medians[name]:.2f} |")
    calls_ratio = results["baseline"][0][1] / max(results["promoter"][0][1], 1)
    print(f"API calls: baseline/promoter = {calls_ratio:.0f}x")
    print(f"wall time: promoter/baseline = {medians['promoter'] / medians['baseline']:.2f}")


if __name__ == "__main__":
    main()
