"""The bundled reconciler at scale, side by side with one ``kubectl get`` of the same objects.

An env repo with ``--objects`` objects (default 5,000: 100 namespaces, each with its Namespace, 16 apps of a
Deployment, a Service and a ConfigMap in one file, and one more ConfigMap), the real kubectl (v1.32) and the
fake API of tests/kube running in its own process. Per repetition, on a fresh cluster:

- full sync: the first pass on an empty cluster;
- no change: a pass of the running reconciler when nothing changed (the steady state), interleaved with
- baseline: ``kubectl get <every kind> -A -l promoter.dev/instance=bench -o json`` of the same objects (and
  the same command with kubectl's default table output);
- no change, new process: ``promoter reconcile --once`` (a cron job: a new process, nothing cached);
- one change: a pass after a commit that changes one Deployment.

Printed: medians of the wall times, the requests each scenario sent to the API server (writes, dry runs,
lists, single-object GETs), and the ratio no change / baseline. ``--profile`` prints the top functions of one
no-change pass (cProfile, cumulative) and its step durations.

Run: ``python3 benchmarks/reconcile.py [--objects 5000] [--reps 5] [--profile]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from promoter import progress  # noqa: E402
from promoter.reconcile.kubectl import Kubectl  # noqa: E402
from promoter.reconcile.loop import ReconcileOptions, Reconciler  # noqa: E402
from promoter.reconcile.status import SyncStatus  # noqa: E402

INSTANCE = "bench"
KINDS = "Namespace.v1.,Deployment.v1.apps,Service.v1.,ConfigMap.v1."
APPS_PER_NAMESPACE = 16


# --- the fake API server in a process of its own ------------------------------------------------------
def _serve(workdir: str, conn: Connection) -> None:
    from tests.kube.fakeapi import FakeKube

    with FakeKube(Path(workdir)) as kube:
        conn.send(str(kube.kubeconfig))
        while True:
            command = conn.recv()
            if command == "stop":
                break
            if command == "clear":
                kube.clear_requests()
                conn.send(None)
            elif command == "count":
                counts: Counter[str] = Counter()
                for request in kube.requests():
                    counts[_classify(request.method, request.path, request.query)] += 1
                conn.send(dict(counts))


def _classify(method: str, path: str, query: dict[str, str]) -> str:
    if method == "PATCH":
        return "dry-run PATCH" if "dryRun" in query else "PATCH"
    if method == "DELETE":
        return "DELETE"
    parts = [p for p in path.split("/") if p]
    if parts[:1] not in (["api"], ["apis"]) or len(parts) == 1:
        return "discovery"
    resource = parts[2:] if parts[0] == "api" else parts[3:]
    if len(resource) <= 1 or (resource[:1] == ["namespaces"] and len(resource) == 3):
        return "LIST" if resource else "discovery"
    return "GET"


class FakeCluster:
    def __init__(self, workdir: Path) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(str(workdir), child), daemon=True)
        self.process.start()
        self.kubeconfig = self.conn.recv()

    def clear(self) -> None:
        self.conn.send("clear")
        self.conn.recv()

    def counts(self) -> dict[str, int]:
        self.conn.send("count")
        counts: dict[str, int] = self.conn.recv()
        return counts

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


# --- the env repo ------------------------------------------------------------------------------------
def files(objects: int, tag: str = "1.0.0") -> dict[str, str]:
    per_namespace = 2 + 3 * APPS_PER_NAMESPACE
    out: dict[str, str] = {}
    for n in range(max(1, objects // per_namespace)):
        ns = f"team-{n:03d}"
        out[f"apps/{ns}/namespace.yaml"] = f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
        out[f"apps/{ns}/settings.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\n"
            f"data: {{region: eu-{n % 3}, tier: standard}}\n"
        )
        for a in range(APPS_PER_NAMESPACE):
            image_tag = tag if (n, a) == (0, 0) else "1.0.0"
            out[f"apps/{ns}/app-{a:02d}.yaml"] = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{a:02d}
  namespace: {ns}
  labels: {{app.kubernetes.io/name: app-{a:02d}, team: {ns}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app.kubernetes.io/name: app-{a:02d}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: app-{a:02d}}}
    spec:
      containers:
        - name: app
          image: registry.example.com/{ns}/app-{a:02d}:{image_tag}
          ports: [{{containerPort: 8080, name: http}}]
          env: [{{name: LOG_LEVEL, value: info}}]
---
apiVersion: v1
kind: Service
metadata: {{name: app-{a:02d}, namespace: {ns}}}
spec:
  selector: {{app.kubernetes.io/name: app-{a:02d}}}
  ports: [{{port: 80, targetPort: http}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-{a:02d}-config, namespace: {ns}}}
data: {{FEATURE_FLAGS: "a,b,c", TIMEOUT: "30s"}}
"""
    return out


def count_objects(content: dict[str, str]) -> int:
    return sum(text.count("\nkind: ") + text.startswith("kind: ") for text in content.values())


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def write(work: Path, content: dict[str, str]) -> None:
    for rel, text in content.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)


# --- measuring ---------------------------------------------------------------------------------------
def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def check(status: SyncStatus, result: str, applied: int | None = None) -> SyncStatus:
    if status.result != result or (applied is not None and len(status.applied) != applied):
        raise SystemExit(f"unexpected pass: {status.summary()} {status.errors[:3]}")
    return status


def kubectl_get(output: str | None) -> None:
    args = ["kubectl", "get", KINDS, "-A", "-l", f"promoter.dev/instance={INSTANCE}"]
    done = subprocess.run([*args, *(["-o", output] if output else [])], capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr.decode())


def promoter_once(bare: Path, cache: Path) -> None:
    command = [sys.executable, "-m", "promoter", "--repo", str(bare), "reconcile", "--ref", "main"]
    command += ["--instance", INSTANCE, "--once", "--cache-dir", str(cache)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(done.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile one no-change pass")
    args = parser.parse_args()
    progress.configure(enabled=False)
    root = Path(tempfile.mkdtemp(prefix="promoter-bench-reconcile-"))
    os.environ["HOME"] = str(root)
    os.environ["KUBECACHEDIR"] = str(root / "kube-cache")
    os.environ.update({"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com"})
    os.environ.update({"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"})
    content = files(args.objects)
    total = count_objects(content)
    bare, work = root / "env.git", root / "work"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    write(work, content)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "seed", cwd=work)
    git("push", "-q", str(bare), "HEAD:main", cwd=work)

    times: dict[str, list[float]] = {}
    requests: dict[str, dict[str, int]] = {}
    steps: dict[str, list[float]] = {}

    def measure(name: str, cluster: FakeCluster, func: Callable[[], Any]) -> Any:
        cluster.clear()
        elapsed, value = timed(func)
        times.setdefault(name, []).append(elapsed)
        requests[name] = cluster.counts()
        return value

    for rep in range(args.reps):
        cluster = FakeCluster(Path(tempfile.mkdtemp(dir=root)))
        os.environ["KUBECONFIG"] = cluster.kubeconfig
        try:
            options = ReconcileOptions(
                repo=str(bare), ref="main", instance=INSTANCE, cache_dir=root / f"cache-{rep}" / INSTANCE
            )
            reconciler = Reconciler(options, Kubectl())
            measure(
                "full sync (empty cluster)",
                cluster,
                lambda r=reconciler: check(r.reconcile_once(), "applied"),
            )
            check(reconciler.reconcile_once(), "in-sync")  # records "in-sync" once
            for _ in range(3):  # interleaved, so load on the machine hits both alike
                measure("baseline: kubectl get -o json", cluster, lambda: kubectl_get("json"))
                status = measure(
                    "no change", cluster, lambda r=reconciler: check(r.reconcile_once(), "in-sync")
                )
                for step, seconds in status.durations.items():
                    steps.setdefault(step, []).append(seconds)
                measure("baseline: kubectl get (table)", cluster, lambda: kubectl_get(None))
            if args.profile and rep == 0:
                profile(reconciler)
            measure(
                "no change, new process (--once)",
                cluster,
                lambda r=rep: promoter_once(bare, root / f"cache-{r}"),
            )
            write(
                work,
                {
                    "apps/team-000/app-00.yaml": files(args.objects, f"1.0.{rep + 1}")[
                        "apps/team-000/app-00.yaml"
                    ]
                },
            )
            git("commit", "-q", "-am", f"bump {rep}", cwd=work)
            git("push", "-q", str(bare), "HEAD:main", cwd=work)
            measure("one change", cluster, lambda r=reconciler: check(r.reconcile_once(), "applied", 1))
        finally:
            cluster.stop()

    print(f"reconcile, {total} objects in {len(content)} files, medians of {args.reps} runs")
    print(f"{'scenario':<34}{'wall s':>8}  requests to the API server")
    for name, values in times.items():
        sent = ", ".join(f"{k} {v}" for k, v in sorted(requests[name].items()) if k != "discovery")
        print(f"{name:<34}{statistics.median(values):>8.2f}  {sent or '-'}")
    base = statistics.median(times["baseline: kubectl get -o json"])
    table = statistics.median(times["baseline: kubectl get (table)"])
    steady = statistics.median(times["no change"])
    print(
        f"no change / kubectl get -o json: {steady / base:.2f}x; / kubectl get (table): {steady / table:.2f}x"
    )
    medians = ", ".join(f"{step} {statistics.median(v):.3f}" for step, v in steps.items())
    print(f"no change, steps (median s): {medians}")


def profile(reconciler: Reconciler) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    status = reconciler.reconcile_once()
    profiler.disable()
    print(f"profile of one no-change pass: {status.summary()}; steps {status.durations}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)


if __name__ == "__main__":
    main()
