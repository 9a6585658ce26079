"""End to end: real git repos, the real kubectl, the fake API server of tests/kube."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import responses

from promoter.reconcile.inventory import decode_inventory
from promoter.reconcile.loop import BACKOFF_CAP, next_delay
from promoter.reconcile.source import GitSource, auth_environment
from tests.kube.fakeapi import FakeKube
from tests.support.gitrepos import git

NAMESPACE = """apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels: {{promoter.dev/prune: namespace}}
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/{name}:{tag}
"""
CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
"""
WIDGET = (
    "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: shared}\nspec: {size: 1}\n"
)
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shared}\n"
    "stringData: {password: s3cr3t-v4lue}\n"
)
SHARED_NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shared}\n"  # no prune opt-in


def env_files() -> dict[str, str]:
    return {
        "promoter.yaml": "version: 1\n",
        "clusters/prod/crd.yaml": CRD,
        "clusters/prod/shared/ns.yaml": SHARED_NS,
        "clusters/prod/shared/widget.yaml": WIDGET,
        "clusters/prod/shared/secret.yaml": SECRET,
        "clusters/prod/shared/api.yaml": DEPLOYMENT.format(name="api", namespace="shared", tag="1.0.0"),
        "clusters/prod/previews/pr-7.yaml": NAMESPACE.format(name="pr-7")
        + "---\n"
        + DEPLOYMENT.format(name="web", namespace="pr-7", tag="pr-7"),
    }


def commit(bare: Path, changes: dict[str, str | None], tmp_path: Path) -> str:
    """Push one commit to ``bare`` writing (or, for None, deleting) files."""
    work = tmp_path / f"push-{time.monotonic_ns()}"
    git("clone", "-q", str(bare), str(work), cwd=tmp_path)
    for rel, text in changes.items():
        target = work / rel
        if text is None:
            git("rm", "-q", rel, cwd=work)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            git("add", rel, cwd=work)
    git("commit", "-q", "-m", "change", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


class Env:
    """An env repo and a reconcile command line against it."""

    def __init__(self, run_cli, bare: Path, tmp_path: Path) -> None:
        self.run_cli, self.bare, self.tmp_path = run_cli, bare, tmp_path

    def reconcile(self, *extra: str, output: str = "json"):
        args = ["--output", output, "--repo", str(self.bare), "reconcile", "--ref", "main"]
        args += ["--path", "clusters/prod", "--once", "--cache-dir", str(self.tmp_path / "cache"), *extra]
        result = self.run_cli(*args)
        payload = json.loads(result.stdout) if output == "json" else None
        return result, payload

    def push(self, changes: dict[str, str | None]) -> str:
        return commit(self.bare, changes, self.tmp_path)


@pytest.fixture
def env(run_cli, remote_factory, tmp_path: Path) -> Env:
    return Env(run_cli, remote_factory(env_files()), tmp_path)


def inventory_names(kube: FakeKube, instance: str = "default") -> set[str]:
    configmap = kube.get("ConfigMap", f"promoter-reconcile-{instance}", "default")
    return {ref.name for ref in decode_inventory(configmap["data"]["inventory"])}


def applied_paths(kube: FakeKube) -> list[str]:
    return [r.path for r in kube.requests("PATCH", dry_run=False) if "promoter-reconcile-" not in r.path]


def test_first_sync_applies_everything_in_stage_order_and_labels_it(env: Env, fake_kube: FakeKube) -> None:
    result, payload = env.reconcile()
    assert result.exit_code == 0, result.output
    assert payload["status"]["result"] == "applied"
    paths = applied_paths(fake_kube)
    assert len(paths) == 7
    stage_one = {
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        "/api/v1/namespaces/shared",
        "/api/v1/namespaces/pr-7",
    }
    assert set(paths[:3]) == stage_one
    assert "/apis/example.com/v1/namespaces/shared/widgets/w1" in paths[3:]
    web = fake_kube.get("Deployment", "web", "pr-7")
    assert web is not None
    assert web["metadata"]["labels"]["promoter.dev/instance"] == "default"
    assert {m["manager"] for m in web["metadata"]["managedFields"]} == {"promoter"}
    assert fake_kube.get("ConfigMap", "promoter.yaml") is None  # the config file is not a manifest
    assert len(inventory_names(fake_kube)) == 7
    assert web["metadata"]["annotations"]["promoter.dev/owned-by"] == "default"


def test_one_changed_deployment_is_the_only_object_patched(env: Env, fake_kube: FakeKube) -> None:
    env.reconcile()
    objects = set(applied_paths(fake_kube))
    env.reconcile()  # records "in-sync"
    fake_kube.clear_requests()
    result, payload = env.reconcile()
    assert payload["status"]["result"] == "in-sync"
    assert fake_kube.requests("PATCH") == []  # no write, no dry run: not even the inventory is rewritten
    gets = [
        r for r in fake_kube.requests("GET") if not r.path.startswith(("/api/v1/namespaces/default/config",))
    ]
    assert objects.isdisjoint(r.path for r in gets)  # no per-object GET: one list per kind
    lists = [r for r in gets if r.query.get("labelSelector") == "promoter.dev/instance=default"]
    assert {r.path for r in lists} == {
        "/api/v1/namespaces",
        "/api/v1/secrets",
        "/apis/apps/v1/deployments",
        "/apis/example.com/v1/widgets",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    }

    revision = env.push(
        {"clusters/prod/shared/api.yaml": DEPLOYMENT.format(name="api", namespace="shared", tag="1.1.0")}
    )
    fake_kube.clear_requests()
    result, payload = env.reconcile()
    assert result.exit_code == 0
    assert applied_paths(fake_kube) == ["/apis/apps/v1/namespaces/shared/deployments/api"]
    assert payload["status"]["applied"] == ["Deployment/shared/api"]
    assert payload["status"]["applied_revision"] == revision
    image = fake_kube.get("Deployment", "api", "shared")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/api:1.1.0"


def test_deleting_a_preview_file_prunes_its_objects_and_opted_in_namespace(
    env: Env, fake_kube: FakeKube
) -> None:
    env.reconcile()
    env.push(
        {
            "clusters/prod/previews/pr-7.yaml": None,
            "clusters/prod/shared/ns.yaml": None,
            "clusters/prod/shared/api.yaml": None,
        }
    )
    fake_kube.set_field(
        "Deployment", "api", "shared", ("metadata", "labels", "promoter.dev/prune"), "disabled"
    )
    fake_kube.clear_requests()
    result, payload = env.reconcile()
    assert result.exit_code == 0, result.output
    assert payload["status"]["pruned"] == ["Deployment/pr-7/web", "Namespace/pr-7"]
    deletes = [r.path for r in fake_kube.requests("DELETE")]
    assert deletes == ["/apis/apps/v1/namespaces/pr-7/deployments/web", "/api/v1/namespaces/pr-7"]
    assert fake_kube.get("Namespace", "pr-7") is None
    assert fake_kube.get("Namespace", "shared") is not None  # no opt-in label: never deleted
    assert fake_kube.get("Deployment", "api", "shared") is not None  # prune: disabled
    skipped = "\n".join(payload["status"]["skipped"])
    assert "Namespace/shared: Namespace without the promoter.dev/prune: namespace opt-in" in skipped
    assert "Deployment/shared/api: promoter.dev/prune: disabled" in skipped
    assert inventory_names(fake_kube) == {"widgets.example.com", "w1", "db"}


def test_object_that_lost_the_instance_label_is_not_deleted(env: Env, fake_kube: FakeKube) -> None:
    env.reconcile()
    label = ("metadata", "labels", "promoter.dev/instance")
    fake_kube.set_field("Deployment", "api", "shared", label, "other")
    env.push({"clusters/prod/shared/api.yaml": None})
    result, payload = env.reconcile()
    assert result.exit_code == 0
    assert fake_kube.get("Deployment", "api", "shared") is not None
    skipped = payload["status"]["skipped"]
    assert "Deployment/shared/api: no longer carries promoter.dev/instance=default" in skipped
    assert fake_kube.requests("DELETE") == []


def test_manual_change_in_the_cluster_is_reverted(env: Env, fake_kube: FakeKube) -> None:
    env.reconcile()
    done = subprocess.run(
        [
            "kubectl",
            "patch",
            "deployment",
            "api",
            "-n",
            "shared",
            "--type",
            "merge",
            "-p",
            '{"spec":{"replicas":5}}',
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert fake_kube.get("Deployment", "api", "shared")["spec"]["replicas"] == 5
    fake_kube.clear_requests()
    _, payload = env.reconcile()
    assert payload["status"]["applied"] == ["Deployment/shared/api"]
    assert fake_kube.get("Deployment", "api", "shared")["spec"]["replicas"] == 1


def test_suspend_stops_applying_and_pruning_until_resume(env: Env, fake_kube: FakeKube) -> None:
    env.reconcile()
    assert env.run_cli("reconcile", "suspend").exit_code == 0
    env.push({"clusters/prod/previews/pr-7.yaml": None})
    fake_kube.set_field("Deployment", "api", "shared", ("spec", "replicas"), 3)
    fake_kube.clear_requests()
    result, payload = env.reconcile()
    assert result.exit_code == 0
    assert payload["status"]["result"] == "suspended"
    assert fake_kube.requests("PATCH") == [] and fake_kube.requests("DELETE") == []
    assert fake_kube.get("Namespace", "pr-7") is not None
    status = env.run_cli("--output", "json", "reconcile", "status")
    assert json.loads(status.stdout)["suspended"] is True

    assert env.run_cli("reconcile", "resume").exit_code == 0
    result, payload = env.reconcile()
    assert payload["status"]["result"] == "applied"
    assert fake_kube.get("Namespace", "pr-7") is None
    assert fake_kube.get("Deployment", "api", "shared")["spec"]["replicas"] == 1


def test_unreachable_git_keeps_last_good_state_and_never_prunes(env: Env, fake_kube: FakeKube) -> None:
    _, first = env.reconcile()
    env.bare.rename(env.bare.with_name("moved.git"))
    fake_kube.set_field("Deployment", "api", "shared", ("spec", "replicas"), 4)
    result, payload = env.reconcile()
    assert result.exit_code == 1
    status = payload["status"]
    assert status["result"] == "source-unreachable" and status["source_stale"] is True
    assert status["attempted_revision"] == first["status"]["attempted_revision"]
    assert any("cannot fetch main" in e for e in status["errors"])
    assert "prune skipped: the env repo could not be fetched" in status["errors"]
    assert fake_kube.requests("DELETE") == []
    assert fake_kube.get("Deployment", "api", "shared")["spec"]["replicas"] == 1  # last good state re-applied
    text = env.run_cli("reconcile", "status").output
    assert "result:           source-unreachable" in text


def test_broken_yaml_applies_nothing_prunes_nothing_and_names_the_file(env: Env, fake_kube: FakeKube) -> None:
    env.reconcile()
    env.push(
        {
            "clusters/prod/previews/pr-7.yaml": None,
            "clusters/prod/shared/api.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: [\n",
        }
    )
    fake_kube.clear_requests()
    result, payload = env.reconcile()
    assert result.exit_code == 3
    assert payload["status"]["result"] == "render-failed"
    assert any(e.startswith("shared/api.yaml:4:1: YAML does not parse") for e in payload["status"]["errors"])
    assert applied_paths(fake_kube) == [] and fake_kube.requests("DELETE") == []
    assert fake_kube.get("Namespace", "pr-7") is not None


def test_empty_render_is_refused_unless_allowed(env: Env, fake_kube: FakeKube) -> None:
    env.reconcile()
    env.push(
        {rel: None for rel in env_files() if rel.startswith("clusters/")} | {"clusters/prod/README.md": "x"}
    )
    result, payload = env.reconcile()
    assert result.exit_code == 4
    assert payload["status"]["result"] == "refused-empty"
    assert fake_kube.requests("DELETE") == []
    result, payload = env.reconcile("--allow-empty")
    assert result.exit_code == 0, result.output
    assert "Namespace/pr-7" in payload["status"]["pruned"]
    assert fake_kube.get("Namespace", "pr-7") is None


def test_dry_run_prints_the_plan_and_changes_nothing(env: Env, fake_kube: FakeKube) -> None:
    result, _ = env.reconcile("--dry-run", output="text")
    assert result.exit_code == 0, result.output
    assert "default: planned" in result.output
    assert "would apply: Deployment/pr-7/web" in result.output  # waits for its namespace: planned, not diffed
    assert "would apply: Widget/shared/w1" in result.output
    assert fake_kube.requests("PATCH", dry_run=False) == []
    assert fake_kube.get("ConfigMap", "promoter-reconcile-default", "default") is None


def test_kustomize_rendered_and_helm_chart_without_helm_is_a_clear_error(
    run_cli, remote_factory, tmp_path: Path, fake_kube: FakeKube
) -> None:
    files = {
        "base/kustomization.yaml": "namespace: default\nresources: [cm.yaml]\ncommonLabels: {team: a}\n",
        "base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-kustomize}\ndata: {a: b}\n",
        "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    }
    env = Env(run_cli, remote_factory(files), tmp_path)
    result = run_cli(
        "--output",
        "json",
        "--repo",
        str(env.bare),
        "reconcile",
        "--ref",
        "main",
        "--once",
        "--cache-dir",
        str(tmp_path / "c"),
    )
    payload = json.loads(result.stdout)
    assert result.exit_code == 1  # a missing program is an operational failure, not bad content
    assert "charts/app: Helm chart found but helm is not on PATH" in payload["status"]["errors"][0]
    (tmp_path / "c").rename(tmp_path / "old")
    commit(env.bare, {"charts/app/Chart.yaml": None}, tmp_path)
    result = run_cli(
        "--repo", str(env.bare), "reconcile", "--ref", "main", "--once", "--cache-dir", str(tmp_path / "c")
    )
    assert result.exit_code == 0, result.output
    assert fake_kube.get("ConfigMap", "from-kustomize", "default")["metadata"]["labels"]["team"] == "a"


def test_secret_data_never_reaches_output(env: Env, fake_kube: FakeKube) -> None:
    result, _ = env.reconcile(output="text")
    again = env.run_cli(
        "-v",
        "-v",
        "--repo",
        str(env.bare),
        "reconcile",
        "--ref",
        "main",
        "--path",
        "clusters/prod",
        "--once",
        "--cache-dir",
        str(env.tmp_path / "cache"),
    )
    fake_kube.set_field("Secret", "db", "shared", ("stringData", "password"), "changed-by-hand")
    third, _ = env.reconcile(output="text")
    assert fake_kube.get("Secret", "db", "shared")["stringData"]["password"] == "s3cr3t-v4lue"
    for output in (result.output, again.output, third.output):
        assert "s3cr3t-v4lue" not in output and "changed-by-hand" not in output
    assert "applied: Secret/shared/db" in third.output


@responses.activate
def test_report_status_posts_a_gitlab_commit_status(env: Env, fake_kube: FakeKube, monkeypatch) -> None:
    url = "https://gitlab.example.com/acme/environments.git"
    monkeypatch.setenv("PROMOTER_TOKEN", "glpat-abcdef123456")
    monkeypatch.setenv("PROMOTER_FORGE_API_URL", "https://gitlab.example.com/api/v4")
    from promoter.reconcile.loop import ReconcileOptions, Reconciler
    from promoter.reconcile.status import SyncStatus, post_commit_status

    endpoint = "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments/statuses/" + "a" * 40
    responses.post(endpoint, json={"id": 1, "status": "success"}, status=201)
    status = SyncStatus("prod", "main", ".", result="in-sync", attempted_revision="a" * 40)
    assert post_commit_status(status, url) is True
    call = responses.calls[0]
    assert call.request.headers["PRIVATE-TOKEN"] == "glpat-abcdef123456"
    body = json.loads(call.request.body)
    assert body["state"] == "success" and body["name"] == "promoter/reconcile/prod"
    assert Reconciler(ReconcileOptions(repo=str(env.bare), ref="main")).options.report_status is False


def test_token_goes_to_git_by_environment_only(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROMOTER_TOKEN", "tok-very-secret-1")
    env = auth_environment("https://git.example.com/acme/env.git")
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"].startswith("Authorization: Basic ")
    assert auth_environment(str(tmp_path)) == {}
    source = GitSource("http://127.0.0.1:9/env.git", "main", tmp_path / "cache")
    with pytest.raises(Exception) as info:
        source.fetch()
    assert "tok-very-secret-1" not in str(info.value)
    assert "tok-very-secret-1" not in (tmp_path / "cache/checkout/.git/config").read_text()
    assert type(info.value).__name__ == "GitError"


def test_backoff_grows_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    assert 54 <= next_delay(60, 0, rng) <= 66
    delays = [next_delay(60, n, rng) for n in range(1, 12)]
    assert delays[0] < delays[3] < delays[6]
    assert max(delays) <= BACKOFF_CAP * 1.1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parse_metrics(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics_scraped_and_sigterm_stops_the_loop_cleanly(env: Env, fake_kube: FakeKube) -> None:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "promoter",
        "--repo",
        str(env.bare),
        "reconcile",
        "--ref",
        "main",
        "--path",
        "clusters/prod",
        "--interval",
        "0.5",
        "--serve",
        f"127.0.0.1:{port}",
        "--cache-dir",
        str(env.tmp_path / "cache"),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        metrics: dict[str, float] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    metrics = _parse_metrics(response.read().decode())
                if metrics.get('promoter_reconcile_runs_total{instance="default",result="in-sync"}', 0) >= 1:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert metrics['promoter_reconcile_runs_total{instance="default",result="applied"}'] == 1
        assert metrics['promoter_reconcile_objects_applied_total{instance="default"}'] == 7
        assert metrics['promoter_reconcile_suspended{instance="default"}'] == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            assert response.status == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "SIGTERM received: stopping after the current step" in stderr
    assert "s3cr3t-v4lue" not in stderr


def test_deploy_manifests_render_and_run_the_reconciler(fake_kube: FakeKube) -> None:
    from promoter.reconcile.kubectl import Kubectl
    from promoter.reconcile.render import render_tree

    templates = Path(__file__).parents[2] / "deploy" / "reconciler"
    rendered = render_tree(templates, Kubectl())
    assert rendered.ok, rendered.errors
    kinds = sorted(m.ref.kind for m in rendered.manifests)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "Namespace", "ServiceAccount"]
    deployment = next(m.obj for m in rendered.manifests if m.ref.kind == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][1] == "reconcile" and "--serve=0.0.0.0:9090" in container["args"]
    token = next(e for e in container["env"] if e["name"] == "PROMOTER_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["name"] == "promoter-reconciler-git"


def test_the_last_preview_deleted_is_an_empty_render_not_a_failure(
    run_cli, remote_factory, tmp_path: Path, fake_kube: FakeKube
) -> None:
    preview = (
        NAMESPACE.format(name="pr-7") + "---\n" + DEPLOYMENT.format(name="web", namespace="pr-7", tag="1")
    )
    env = Env(run_cli, remote_factory({"README.md": "env\n", "apps/pr-7.yaml": preview}), tmp_path)

    def reconcile(*extra: str) -> tuple[int, dict]:
        args = ["--output", "json", "--repo", str(env.bare), "reconcile", "--ref", "main", "--path", "apps"]
        result = run_cli(*args, "--once", "--cache-dir", str(tmp_path / "cache"), *extra)
        return result.exit_code, json.loads(result.stdout)["status"]

    assert reconcile()[1]["result"] == "applied"
    env.push({"apps/pr-7.yaml": None})  # git drops the directory with its last file
    code, status = reconcile()
    assert (code, status["result"]) == (4, "refused-empty")  # the empty-render guard still holds
    assert fake_kube.get("Namespace", "pr-7") is not None
    code, status = reconcile("--allow-empty")
    assert code == 0, status
    assert status["pruned"] == ["Deployment/pr-7/web", "Namespace/pr-7"]
    assert fake_kube.get("Namespace", "pr-7") is None
    code, status = reconcile("--allow-empty")
    assert (code, status["result"]) == (0, "in-sync")


def test_a_path_that_never_existed_is_a_render_error(env: Env, fake_kube: FakeKube) -> None:
    args = ["--output", "json", "--repo", str(env.bare), "reconcile", "--ref", "main", "--path", "nope"]
    result = env.run_cli(*args, "--once", "--cache-dir", str(env.tmp_path / "cache"))
    assert result.exit_code == 3
    status = json.loads(result.stdout)["status"]
    assert status["result"] == "render-failed"
    assert status["errors"] == ["nope: path does not exist in the env repo"]


def test_a_hung_api_server_fails_the_pass_after_the_request_timeout(env: Env, fake_kube: FakeKube) -> None:
    fake_kube.stall("GET", "/api/v1/namespaces/default/configmaps/promoter-reconcile-default", 20)
    result, payload = env.reconcile("--request-timeout", "1s")
    assert result.exit_code == 1
    status = payload["status"]
    assert status["result"] == "failed"
    assert status["errors"][0].startswith("cannot read the inventory: Unable to connect to the server")
    assert (
        "no answer from the API server within 1 s (PROMOTER_KUBECTL_REQUEST_TIMEOUT)" in status["errors"][0]
    )


def test_a_git_server_that_never_answers_fails_after_promoter_git_timeout(
    tmp_path: Path, run_cli, fake_kube: FakeKube, monkeypatch
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # accepts connections (the kernel does) and never answers
        url = f"http://127.0.0.1:{server.getsockname()[1]}/env.git"
        monkeypatch.setenv("PROMOTER_GIT_TIMEOUT", "1")
        args = ["--output", "json", "--repo", url, "reconcile", "--ref", "main", "--once"]
        result = run_cli(*args, "--cache-dir", str(tmp_path / "cache"))
    assert result.exit_code == 1
    status = json.loads(result.stdout)["status"]
    assert status["result"] == "failed"
    assert "no progress for 1 s (PROMOTER_GIT_TIMEOUT)" in status["errors"][0]
    assert url in status["errors"][0]


def test_status_for_wait_is_readable_with_plain_kubectl(env: Env, fake_kube: FakeKube) -> None:
    _, first = env.reconcile()
    env.push({"clusters/prod/shared/api.yaml": DEPLOYMENT.format(name="api", namespace="nope", tag="2")})
    result, payload = env.reconcile()
    assert result.exit_code == 1
    status = payload["status"]
    assert status["result"] == "failed"
    assert status["failures"] == [
        {
            "object": "Deployment/nope/api",
            "message": 'Error from server (NotFound): namespaces "nope" not found',
        }
    ]
    assert status["applied_revision"] == first["status"]["attempted_revision"]  # the last complete one

    def jsonpath(expression: str) -> str:
        done = subprocess.run(
            [
                "kubectl",
                "get",
                "configmap",
                "promoter-reconcile-default",
                "-n",
                "default",
                "-o",
                f"jsonpath={expression}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    assert jsonpath("{.data.result}") == "failed"
    assert jsonpath("{.data.attempted_revision}") == status["attempted_revision"]
    assert jsonpath("{.data.applied_revision}") == first["status"]["attempted_revision"]
    assert jsonpath("{.data.finished_at}") == status["finished_at"]
    stored = json.loads(jsonpath("{.data.status}"))
    assert stored["schema"] == 1 and stored["failures"] == status["failures"]
    assert stored["counts"]["failures"] == 1
    shown = env.run_cli("reconcile", "status").output
    assert "failed:           Deployment/nope/api: Error from server (NotFound)" in shown


def test_one_bad_object_among_many_is_named_and_the_rest_applied(
    run_cli, remote_factory, tmp_path: Path, fake_kube: FakeKube
) -> None:
    files = {
        f"apps/cm-{i:02d}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:02d}}}\n"
        for i in range(40)
    }
    files["apps/cm-17.yaml"] = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-17, namespace: missing}\n"
    )
    env = Env(run_cli, remote_factory(files), tmp_path)
    args = [
        "--output",
        "json",
        "--repo",
        str(env.bare),
        "reconcile",
        "--ref",
        "main",
        "--path",
        "apps",
        "--once",
    ]
    result = run_cli(*args, "--cache-dir", str(tmp_path / "cache"))
    status = json.loads(result.stdout)["status"]
    assert result.exit_code == 1
    assert [f["object"] for f in status["failures"]] == ["ConfigMap/missing/cm-17"]
    assert len(status["applied"]) == 39
    assert len(fake_kube.names("ConfigMap")) == 39 + 1  # and the inventory


def test_a_new_api_version_of_the_same_object_is_not_pruned(env: Env, fake_kube: FakeKube) -> None:
    env.reconcile()
    moved = WIDGET.replace("example.com/v1", "example.com/v2").replace("size: 1", "size: 2")
    crd = CRD.replace(
        "versions: [{name: v1,", "versions: [{name: v1, served: true, storage: false}, {name: v2,"
    )
    env.push({"clusters/prod/crd.yaml": crd, "clusters/prod/shared/widget.yaml": moved})
    result, payload = env.reconcile()
    assert result.exit_code == 0, payload["status"]["errors"]
    assert "Widget/shared/w1" not in payload["status"]["pruned"]
    assert fake_kube.get("Widget", "w1", "shared") is not None


def test_a_symbolic_link_in_the_env_repo_is_refused(env: Env, fake_kube: FakeKube, tmp_path: Path) -> None:
    outside = tmp_path / "runner-secret.yaml"
    outside.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen}\ndata: {token: runner}\n")
    work = tmp_path / "link-work"
    git("clone", "-q", str(env.bare), str(work), cwd=tmp_path)
    (work / "clusters/prod/shared/link.yaml").symlink_to(outside)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "link", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    result, payload = env.reconcile()
    assert result.exit_code == 3
    assert payload["status"]["errors"] == [
        "shared/link.yaml: is a symbolic link: refused (links are never followed)"
    ]
    assert fake_kube.get("ConfigMap", "stolen", "default") is None


def test_a_pass_over_many_objects_shows_progress(
    remote_factory, tmp_path: Path, fake_kube: FakeKube, monkeypatch
) -> None:
    import io

    from promoter import progress
    from promoter.reconcile import apply as apply_module
    from promoter.reconcile.loop import ReconcileOptions, Reconciler

    files = {
        f"apps/cm-{i:02d}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:02d}}}\n"
        for i in range(30)
    }
    bare = remote_factory(files)
    monkeypatch.setattr(apply_module, "CHUNK", 10)
    stream = io.StringIO()
    progress.configure(stream=stream, tty=False, interval=0, delay=0)
    try:
        reconciler = Reconciler(ReconcileOptions(repo=str(bare), ref="main", cache_dir=tmp_path / "cache"))
        status = reconciler.reconcile_once()
    finally:
        progress.configure()
    assert status.result == "applied" and len(status.applied) == 30
    lines = stream.getvalue().splitlines()
    assert any(
        line.startswith("reconcile default: applying: 33% (10 objects of 30 objects)") for line in lines
    )
    assert any(
        line.startswith("reconcile default: applying: 100% (30 objects of 30 objects)") for line in lines
    )
    assert lines[-1].startswith("reconcile default: applying: done (")
    assert not any("pruning" in line for line in lines)  # nothing to prune: nothing shown


def test_an_unchanged_tree_is_not_parsed_again(
    remote_factory, tmp_path: Path, fake_kube: FakeKube, monkeypatch
) -> None:
    from promoter.reconcile import render
    from promoter.reconcile.loop import ReconcileOptions, Reconciler

    files = {
        f"apps/cm-{i}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\n"
        for i in range(3)
    }
    bare = remote_factory(files)
    parsed: list[str] = []
    real = render.load_manifests
    monkeypatch.setattr(render, "load_manifests", lambda text: parsed.append(text) or real(text))
    reconciler = Reconciler(ReconcileOptions(repo=str(bare), ref="main", cache_dir=tmp_path / "cache"))
    assert reconciler.reconcile_once().result == "applied"
    assert len(parsed) == 3
    assert reconciler.reconcile_once().result == "in-sync"
    assert len(parsed) == 3  # same blobs: nothing parsed
    commit(
        bare,
        {"apps/cm-1.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-1}\ndata: {a: b}\n"},
        tmp_path,
    )
    status = reconciler.reconcile_once()
    assert status.applied == ["ConfigMap/default/cm-1"]
    assert len(parsed) == 4  # only the changed file


def test_fake_api_pages_lists_with_limit_and_continue(fake_kube: FakeKube) -> None:
    for i in range(7):
        fake_kube.apply(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}", "labels": {"a": "b"}}}
        )
    done = subprocess.run(
        ["kubectl", "get", "configmaps", "-l", "a=b", "--chunk-size=3", "-o", "name"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [f"configmap/cm-{i}" for i in range(7)]
    pages = [r for r in fake_kube.requests("GET") if r.path == "/api/v1/namespaces/default/configmaps"]
    assert [r.query.get("limit") for r in pages] == ["3", "3", "3"]
    assert "continue" not in pages[0].query and all("continue" in r.query for r in pages[1:])


def test_promoter_wait_reads_a_conflict_as_a_failed_deployment_naming_the_object(
    env: Env, fake_kube: FakeKube
) -> None:
    from promoter.observe.bundled import read_status

    fake_kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shared"}}, "platform-team"
    )
    result, payload = env.reconcile()
    assert (result.exit_code, payload["status"]["result"]) == (4, "conflict")
    observed = read_status(fake_kube.get("ConfigMap", "promoter-reconcile-default", "default"))
    assert observed.attempt_failed and observed.health == "Degraded"
    failing = {(r.kind, r.namespace, r.name) for r in observed.failing}
    assert ("Namespace", None, "shared") in failing
    assert ("Deployment", "shared", "api") in failing  # withheld: its namespace is not promoter's


def test_a_status_update_by_a_controller_is_no_drift_and_sends_no_write(
    env: Env, fake_kube: FakeKube
) -> None:
    env.reconcile()
    env.reconcile()  # records "in-sync"
    fake_kube.set_field(
        "Deployment", "api", "shared", ("status", "readyReplicas"), 1
    )  # a new resourceVersion
    fake_kube.clear_requests()
    result, payload = env.reconcile()
    assert (result.exit_code, payload["status"]["result"]) == (0, "in-sync")
    assert fake_kube.requests("PATCH") == []


def test_once_runs_reuse_the_parsed_files_of_the_last_run(env: Env, fake_kube: FakeKube, monkeypatch) -> None:
    from promoter.reconcile import render

    env.reconcile()
    cache = env.tmp_path / "cache" / "default" / "render-cache.json"
    assert cache.stat().st_mode & 0o777 == 0o600
    parsed: list[str] = []
    real = render.load_manifests
    monkeypatch.setattr(render, "load_manifests", lambda text: parsed.append(text) or real(text))
    _, payload = env.reconcile()
    assert payload["status"]["result"] == "in-sync"
    assert parsed == []


def test_without_cluster_wide_list_rights_each_namespace_is_listed(env: Env, fake_kube: FakeKube) -> None:
    env.reconcile()
    fake_kube.store.namespaced_only = True
    fake_kube.clear_requests()
    result, payload = env.reconcile()
    assert (result.exit_code, payload["status"]["result"]) == (0, "in-sync"), payload["status"]["errors"]
    listed = {r.path for r in fake_kube.requests("GET") if "labelSelector" in r.query}
    assert "/api/v1/namespaces/shared/secrets" in listed
    assert "/apis/apps/v1/namespaces/pr-7/deployments" in listed
