"""``promoter wait`` against a loopback Argo CD API: exit latency after "healthy", and API calls per minute.

Latency: the Argo CD double answers OutOfSync until a moment spread evenly over one poll interval, then
Synced/Healthy at the env head; we take the time from that moment to the exit of the ``promoter wait``
process (default poll: 5 s). Baseline, in the same run: the loop teams write by hand
(``until curl .../applications/api | jq -e '.status.health.status == "Healthy"'; do sleep 5; done``, as a
Python process polling every 5 s), which has no deadline, no refresh, no revision check and no report.

Load: ``promoter wait --timeout 60s`` on four apps that never become healthy; requests per app in that
minute (the limit: 12 at the default poll, one call per poll per app).

Run: ``python3 benchmarks/wait.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.argocd import FakeArgoCD, Recorded, application
from tests.support.gitrepos import git, make_remote

POLL = 5.0
APPS = 4
CONFIG = """\
version: 1
environments:
  staging:
    branch: staging
    deploy:
      argocd: {{url: "{url}", application: "{{{{ app }}}}"}}
apps:
{apps}
"""
BASELINE = """\
import json, sys, time, urllib.request
url = sys.argv[1]
while True:
    with urllib.request.urlopen(url) as answer:
        if json.load(answer)["status"]["health"]["status"] == "Healthy":
            break
    time.sleep(5)
"""


def setup(tmp: Path, url: str) -> tuple[Path, Path]:
    files = {f"api{i}.yaml": f"image: registry.example.com/acme/api{i}:1.0.{i}\n" for i in range(APPS)}
    bare = make_remote(tmp, files, branches=("staging",))
    apps = "\n".join(
        f"  api{i}: {{image: registry.example.com/acme/api{i}, files: [{{file: api{i}.yaml}}]}}"
        for i in range(APPS)
    )
    config = tmp / "promoter.yaml"
    config.write_text(CONFIG.format(url=url, apps=apps))
    return bare, config


def healthy_after(moment: float, revision: str, name: str = "api0") -> Any:
    def answer(request: Recorded) -> dict[str, Any]:
        if time.monotonic() >= moment:
            return application(name, revision=revision)
        return application(
            name, revision=revision, sync="OutOfSync", operation="Running", health="Progressing"
        )

    return answer


def promoter(config: Path, bare: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "promoter", "--config", str(config), "--repo", str(bare), *args]


def latency_run(argocd: FakeArgoCD, config: Path, bare: Path, offset: float, baseline: bool) -> float:
    revision = git("rev-parse", "staging", cwd=bare)
    moment = time.monotonic() + 3.0 + offset
    argocd.script("api0", healthy_after(moment, revision))
    if baseline:
        command = [sys.executable, "-c", BASELINE, f"{argocd.url}/api/v1/applications/api0"]
    else:
        command = promoter(config, bare, "-q", "wait", "staging", "--app", "api0", "--no-report")
    subprocess.run(command, check=True, env={**os.environ, "PROMOTER_CONFIG": str(config)})
    return time.monotonic() - moment


def load_run(argocd: FakeArgoCD, config: Path, bare: Path) -> list[int]:
    for i in range(APPS):
        argocd.script(f"api{i}", application(f"api{i}", revision="0" * 40))
    argocd.requests.clear()
    command = promoter(config, bare, "-q", "wait", "staging", "--timeout", "60s", "--no-report")
    done = subprocess.run(command, check=False)
    assert done.returncode == 7, done.returncode
    return [len(argocd.calls(f"api{i}")) for i in range(APPS)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    argocd = FakeArgoCD().start()
    try:
        with tempfile.TemporaryDirectory(prefix="promoter-bench-wait-") as tmp:
            bare, config = setup(Path(tmp), argocd.url)
            offsets = [POLL * (i + 0.5) / args.runs for i in range(args.runs)]
            ours = [latency_run(argocd, config, bare, offset, baseline=False) for offset in offsets]
            theirs = [latency_run(argocd, config, bare, offset, baseline=True) for offset in offsets]
            calls = load_run(argocd, config, bare)
    finally:
        argocd.stop()
    print(f"latency healthy -> exit, {args.runs} runs, poll {POLL:.0f} s (moments spread over one poll)")
    print(f"  promoter wait     median {statistics.median(ours):.2f} s  max {max(ours):.2f} s")
    print(f"  hand-written loop median {statistics.median(theirs):.2f} s  max {max(theirs):.2f} s")
    print(f"  ratio promoter / loop: {statistics.median(ours) / statistics.median(theirs):.2f}")
    print(f"API calls in 60 s of waiting, {APPS} apps, default poll: {calls} (limit 12 per app)")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
