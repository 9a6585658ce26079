"""The bundled reconciler never takes over, relabels or prunes an object it did not create.

End to end with the real kubectl against the fake API of tests/kube: objects that already exist without
promoter's ownership annotation are conflicts (status, exit code 4, metrics), never force-applied, and
never deleted, even when an inventory written by an earlier version lists them.
"""

from __future__ import annotations

import json
from pathlib import Path

from promoter.reconcile.server import Metrics
from promoter.reconcile.status import SyncStatus
from tests.kube.fakeapi import FakeKube
from tests.support.gitrepos import make_remote

PRODUCTION = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: production\n  labels: {promoter.dev/prune: namespace}\n"
WEB = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: production}\ndata: {mode: preview}\n"
SYSTEM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: coredns, namespace: kube-system}\ndata: {Corefile: x}\n"
TEAM = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {promoter.dev/prune: namespace}}\n"


def seed_owner_objects(kube: FakeKube) -> None:
    for name in ("production", "kube-system"):
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": {"promoter.dev/prune": "disabled"}},
            },
            "platform-team",
        )
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web", "namespace": "production"},
            "data": {"mode": "live"},
        },
        "platform-team",
    )
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": ".:53"},
        },
        "kube-controller-manager",
    )


def reconcile(run_cli, remote: Path, tmp_path: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    args = ["--output", "json", "--repo", str(remote), "reconcile", "--ref", "main", "--path", "cluster"]
    result = run_cli(*args, "--once", "--cache-dir", str(tmp_path / "cache"))
    return result.exit_code, json.loads(result.stdout)["status"]


def snapshot(kube: FakeKube) -> list[dict | None]:  # type: ignore[type-arg]
    return [
        kube.get("Namespace", "production"),
        kube.get("ConfigMap", "web", "production"),
        kube.get("Namespace", "kube-system"),
        kube.get("ConfigMap", "coredns", "kube-system"),
    ]


def test_existing_objects_are_conflicts_never_applied_nor_pruned(
    tmp_path: Path, run_cli, fake_kube: FakeKube
) -> None:
    seed_owner_objects(fake_kube)
    before = snapshot(fake_kube)
    files = {
        "cluster/production.yaml": PRODUCTION + "---\n" + WEB,
        "cluster/system.yaml": SYSTEM,
        "cluster/team.yaml": TEAM,
    }
    remote = make_remote(tmp_path, files)
    code, status = reconcile(run_cli, remote, tmp_path)
    assert code == 4, status
    assert status["result"] == "conflict"
    assert {c["object"] for c in status["conflicts"]} == {
        "Namespace/production",
        "ConfigMap/production/web",
        "ConfigMap/kube-system/coredns",
    }
    message = next(c["message"] for c in status["conflicts"] if c["object"] == "Namespace/production")
    assert "already exists and was not created by promoter" in message
    assert snapshot(fake_kube) == before  # not relabelled, not re-owned, not changed
    assert fake_kube.get("Namespace", "team-a") is not None  # everything else is applied
    assert status["applied"] == ["Namespace/team-a"]
    patched = {r.path for r in fake_kube.requests("PATCH")}
    assert not any("production" in p or "kube-system" in p for p in patched)

    metrics = Metrics("default")
    metrics.observe(SyncStatus(**{k: v for k, v in status.items() if k in SyncStatus.__dataclass_fields__}))
    assert 'promoter_reconcile_conflicts{instance="default"} 3' in metrics.render()
    assert 'promoter_reconcile_runs_total{instance="default",result="conflict"} 1' in metrics.render()

    stored = run_cli("--output", "json", "reconcile", "status")
    assert {c["object"] for c in json.loads(stored.stdout)["status"]["conflicts"]} == {
        c["object"] for c in status["conflicts"]
    }

    remote_work = tmp_path / "work"
    _commit_removal(remote, remote_work, ["cluster/production.yaml", "cluster/system.yaml"])
    code, status = reconcile(run_cli, remote, tmp_path)
    assert code == 0, status
    assert snapshot(fake_kube) == before  # never pruned: promoter never owned them
    assert fake_kube.requests("DELETE") == []


def test_objects_an_earlier_version_took_over_are_never_pruned(
    tmp_path: Path, run_cli, fake_kube: FakeKube
) -> None:
    """The first release force-applied a preview over Namespace/production and listed it in its inventory."""
    seed_owner_objects(fake_kube)
    fake_kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "production",
                "labels": {"promoter.dev/instance": "default", "promoter.dev/prune": "namespace"},
            },
        },
        "promoter",
    )
    old_inventory = [{"apiVersion": "v1", "kind": "Namespace", "namespace": "", "name": "production"}]
    fake_kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "promoter-reconcile-default", "namespace": "default"},
            "data": {"inventory": json.dumps(old_inventory)},
        },
        "promoter-inventory",
    )
    remote = make_remote(tmp_path, {"cluster/team.yaml": TEAM})
    code, status = reconcile(run_cli, remote, tmp_path)
    assert code == 0, status
    assert fake_kube.get("Namespace", "production") is not None
    assert fake_kube.get("ConfigMap", "web", "production") is not None
    assert any(s.startswith("Namespace/production: not created by this instance") for s in status["skipped"])
    assert fake_kube.requests("DELETE") == []


def _commit_removal(remote: Path, work: Path, paths: list[str]) -> None:
    from tests.support.gitrepos import git

    git("clone", "-q", str(remote), str(work), cwd=remote.parent)
    git("rm", "-q", *paths, cwd=work)
    git("commit", "-q", "-m", "remove", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
