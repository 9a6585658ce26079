"""Reconcile loop wall times and PATCH counts: 500 objects across 100 directories, real kubectl, fake API.

Scenarios (medians): full sync on an empty cluster, a loop with no change, a loop after a commit that changes
one Deployment. Baseline, in the same run: a blind ``kubectl apply --server-side`` of all objects every loop
(what a loop without the diff gate does). Run: ``python3 benchmarks/reconcile.py [--reps N]``.
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

from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.loop import ReconcileOptions, Reconciler
from tests.kube.fakeapi import FakeKube

DIRS = 100
BLIND = ["kubectl", "apply", "--server-side", "--field-manager=promoter", "--force-conflicts"]


def files(tag: str = "1.0.0") -> dict[str, str]:
    out = {}
    for i in range(DIRS):
        ns = f"team-{i:03d}"
        out[f"apps/{ns}/namespace.yaml"] = f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
        out[f"apps/{ns}/deployment.yaml"] = (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app, namespace: {ns}}}\n"
            f"spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
            f"        - {{name: app, image: 'registry.example.com/app:{tag if i == 0 else '1.0.0'}'}}\n"
        )
        out[f"apps/{ns}/service.yaml"] = (
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: app, namespace: {ns}}}\n"
            "spec: {ports: [{port: 80}]}\n"
        )
        for name in ("settings", "features"):
            out[f"apps/{ns}/{name}.yaml"] = (
                f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\n"
                f"data: {{key: value-{i}}}\n"
            )
    return out


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def write(work: Path, content: dict[str, str]) -> None:
    for rel, text in content.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)


def timed(func) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    reps = parser.parse_args().reps
    root = Path(tempfile.mkdtemp(prefix="promoter-bench-reconcile-"))
    os.environ["HOME"] = str(root)
    os.environ.update({"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com"})
    os.environ.update({"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"})
    bare, work = root / "env.git", root / "work"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    write(work, files())
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "seed", cwd=work)
    git("push", "-q", str(bare), "HEAD:main", cwd=work)
    plain = root / "plain.yaml"  # the baseline's input: every object, one stream
    plain.write_text("---\n".join(files().values()))

    results: dict[str, list[float]] = {}
    patches: dict[str, tuple[int, int]] = {}

    def measure(name: str, kube: FakeKube, func) -> None:  # type: ignore[no-untyped-def]
        kube.clear_requests()
        results.setdefault(name, []).append(timed(func))
        patches[name] = (
            len(kube.requests("PATCH", dry_run=False)),
            len(kube.requests("PATCH", dry_run=True)),
        )

    for rep in range(reps):
        with FakeKube(Path(tempfile.mkdtemp(dir=root))) as kube:
            os.environ["KUBECONFIG"] = str(kube.kubeconfig)
            options = ReconcileOptions(repo=str(bare), ref="main", cache_dir=root / f"cache-{rep}")
            reconciler = Reconciler(options, Kubectl())
            measure("full sync", kube, lambda r=reconciler: check(r.reconcile_once(), "applied"))
            check(reconciler.reconcile_once(), "in-sync")  # records "in-sync"
            measure("no change", kube, lambda r=reconciler: check(r.reconcile_once(), "in-sync"))
            write(
                work,
                {"apps/team-000/deployment.yaml": files(f"1.0.{rep + 1}")["apps/team-000/deployment.yaml"]},
            )
            git("commit", "-q", "-am", f"bump {rep}", cwd=work)
            git("push", "-q", str(bare), "HEAD:main", cwd=work)
            measure("one change", kube, lambda r=reconciler: check(r.reconcile_once(), "applied", 1))
            measure(
                "baseline: blind apply",
                kube,
                lambda: subprocess.run([*BLIND, "-f", str(plain)], check=True, capture_output=True),
            )

    print(f"reconcile, {len(files())} objects in {DIRS} directories, medians of {reps} runs")
    print(f"{'scenario':<24}{'wall s':>9}{'PATCH':>8}{'dry-run PATCH':>15}")
    for name, values in results.items():
        real, dry = patches[name]
        print(f"{name:<24}{statistics.median(values):>9.2f}{real:>8}{dry:>15}")
    base = statistics.median(results["baseline: blind apply"])
    for name in ("no change", "one change"):
        print(f"{name} loop vs blind apply: {statistics.median(results[name]) / base:.2f}x the time")


def check(status, result: str, applied: int | None = None):  # type: ignore[no-untyped-def]
    if status.result != result or (applied is not None and len(status.applied) != applied):
        raise SystemExit(f"unexpected pass: {status.summary()} {status.errors[:3]}")
    return status


if __name__ == "__main__":
    main()
