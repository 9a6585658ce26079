"""Flux source: the real kubectl against the fake API with the Flux kinds; waits run on a fake clock."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from promoter.errors import OperationalError
from promoter.observe.ancestry import Ancestry
from promoter.observe.flux import REQUESTED_AT, FluxSource, commit_of
from promoter.observe.narrate import Narrator
from promoter.observe.source import SourceAccessDenied, SourceUnavailable, Target
from promoter.observe.wait import Waiter, WaitSettings
from tests.kube.fakeapi import FakeKube
from tests.kube.flux import (
    add_flux_kinds,
    apply,
    git_repository,
    helm_release,
    helm_release_status,
    kustomization,
    kustomization_status,
    namespace,
    set_status,
)

PUSHED = "1f0c2d9e8b7a6543210fedcba9876543210abcde"
OLD = "0" * 40
HEALTH_FAILED = (
    "False",
    "HealthCheckFailed",
    "health check failed after 3m0s: timeout waiting for: [Deployment/staging/api status: 'InProgress']",
)


@pytest.fixture
def flux(fake_kube: FakeKube) -> FakeKube:
    add_flux_kinds(fake_kube)
    apply(
        namespace("flux-system"),
        namespace("staging"),
        git_repository(),
        kustomization(),
        helm_release(),
        helm_release("worker", parent=None),
    )
    return fake_kube


def kustomization_source(**kwargs: Any) -> FluxSource:
    return FluxSource("Kustomization", "apps", "flux-system", **kwargs)


@pytest.mark.parametrize(
    ("revision", "commit"),
    [
        (f"staging@sha1:{PUSHED}", PUSHED),
        (f"sha1:{PUSHED}", PUSHED),
        (f"staging/{PUSHED}", PUSHED),
        (f"refs/heads/staging/{PUSHED}", PUSHED),
        (PUSHED, PUSHED),
        ("1.3.0", None),
        ("", None),
        (None, None),
    ],
)
def test_commit_of_flux_revisions(revision: str | None, commit: str | None) -> None:
    assert commit_of(revision) == commit


def test_ready_at_the_pushed_commit(flux: FakeKube) -> None:
    set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=PUSHED))
    observation = kustomization_source().observe()
    assert (observation.revisions, observation.in_sync, observation.health, observation.sync_label) == (
        (PUSHED,),
        True,
        "Healthy",
        "Ready",
    )


def test_ready_for_an_older_generation_is_not_in_sync(flux: FakeKube) -> None:
    apply(kustomization(path="./staging-v2"))  # generation 2, not yet observed
    set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=PUSHED))
    assert kustomization_source().observe().in_sync is False


def test_reconciling(flux: FakeKube) -> None:
    status = kustomization_status(
        applied=OLD,
        attempted=PUSHED,
        ready=("Unknown", "Progressing", "Reconciliation in progress"),
        reconciling=True,
    )
    set_status(flux, "Kustomization", "apps", "flux-system", status)
    observation = kustomization_source().observe()
    assert (observation.revisions, observation.attempted, observation.busy) == ((OLD,), (PUSHED,), True)
    assert observation.sync_label == "Reconciling"


def test_health_check_failure_is_terminal_and_names_the_object(flux: FakeKube) -> None:
    status = kustomization_status(applied=OLD, attempted=PUSHED, ready=HEALTH_FAILED, reconciling=True)
    set_status(flux, "Kustomization", "apps", "flux-system", status)
    observation = kustomization_source().observe()
    assert observation.attempt_failed and observation.attempted == (PUSHED,)
    assert str(observation.failing[0]) == f'Kustomization "apps": {HEALTH_FAILED[2]}'


def test_artifact_failure_is_waited_out(flux: FakeKube) -> None:
    ready = ("False", "ArtifactFailed", "Source artifact not found, retrying in 30s")
    set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=OLD, ready=ready))
    observation = kustomization_source().observe()
    assert not observation.attempt_failed and observation.sync_label == "ArtifactFailed"


def test_missing_kustomization(flux: FakeKube) -> None:
    observation = FluxSource("Kustomization", "nope", "flux-system").observe()
    assert observation.found is False


def test_flux_not_installed_is_exit_1_at_once(fake_kube: FakeKube) -> None:
    with pytest.raises(OperationalError) as caught:
        kustomization_source().observe()
    assert not isinstance(caught.value, SourceUnavailable)
    assert "resource type" in caught.value.message and caught.value.exit_code == 1


def test_reconcile_annotates_the_source_then_the_kustomization(flux: FakeKube) -> None:
    set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=OLD))
    flux.clear_requests()
    source = kustomization_source(reconcile=True)
    source.observe(refresh=True)
    patches = [(r.method, r.path) for r in flux.requests("PATCH")]
    assert patches == [
        ("PATCH", "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/environments"),
        ("PATCH", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps"),
    ]
    for kind, name in (("GitRepository", "environments"), ("Kustomization", "apps")):
        stamp = ((flux.get(kind, name, "flux-system") or {}).get("metadata") or {}).get("annotations", {})
        assert stamp.get(REQUESTED_AT, "").endswith("Z")
    flux.clear_requests()
    source.observe(refresh=False)
    assert flux.requests("PATCH") == []


def test_helm_release_counts_once_its_kustomization_applied_the_commit(flux: FakeKube) -> None:
    set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=PUSHED))
    set_status(flux, "HelmRelease", "api", "staging", helm_release_status())
    source = FluxSource("HelmRelease", "api", "staging")
    first = source.observe()  # learns its parent from the labels
    assert first.revisions == (PUSHED,) and first.in_sync and not first.revision_blind
    flux.clear_requests()
    source.observe()
    paths = [r.path for r in flux.requests("GET") if "kustomizations" in r.path or "helmreleases" in r.path]
    assert paths == [
        "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps",
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/staging/helmreleases/api",
    ]


def test_helm_release_behind_its_new_spec_is_not_done(flux: FakeKube) -> None:
    apply(helm_release(tag="1.4.3"))  # generation 2, the controller has not seen it
    set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=PUSHED))
    set_status(flux, "HelmRelease", "api", "staging", helm_release_status(observed_generation=1))
    observation = FluxSource("HelmRelease", "api", "staging").observe()
    assert observation.revisions == () and observation.in_sync is False


def test_helm_release_upgrade_failure_after_retries(flux: FakeKube) -> None:
    apply(helm_release(tag="1.4.3"))
    set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=PUSHED))
    status = helm_release_status(
        ready=(
            "False",
            "UpgradeFailed",
            "Helm upgrade failed for release staging/api: context deadline exceeded",
        ),
        observed_generation=1,
        attempted_generation=2,
        stalled=("RetriesExceeded", "Failed to upgrade after 1 attempt(s)"),
    )
    set_status(flux, "HelmRelease", "api", "staging", status)
    observation = FluxSource("HelmRelease", "api", "staging").observe()
    assert observation.attempt_failed and observation.attempted == (PUSHED,)
    assert observation.failing[0].message.startswith("Helm upgrade failed for release staging/api")


def test_helm_release_retrying_is_not_failed_yet(flux: FakeKube) -> None:
    set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=PUSHED))
    status = helm_release_status(
        ready=("False", "UpgradeFailed", "Helm upgrade failed"),
        reconciling=("ProgressingWithRetry", "retrying after 5m"),
    )
    set_status(flux, "HelmRelease", "api", "staging", status)
    observation = FluxSource("HelmRelease", "api", "staging").observe()
    assert not observation.attempt_failed and observation.busy


def test_helm_release_without_a_kustomization_goes_by_readiness(
    flux: FakeKube, caplog: pytest.LogCaptureFixture
) -> None:
    set_status(flux, "HelmRelease", "worker", "staging", helm_release_status())
    with caplog.at_level(logging.WARNING, logger="promoter.observe"):
        observation = FluxSource("HelmRelease", "worker", "staging").observe()
    assert observation.revision_blind and observation.in_sync
    assert "cannot tell which env commit" in caplog.text


def test_wait_on_a_kustomization_from_reconciling_to_ready(flux: FakeKube, fake_time) -> None:
    reconciling = kustomization_status(
        applied=OLD, attempted=PUSHED, ready=("Unknown", "Progressing", "Reconciliation in progress")
    )
    set_status(flux, "Kustomization", "apps", "flux-system", reconciling)
    fake_time.on_sleep.append(
        lambda now: (
            now >= 1010
            and set_status(flux, "Kustomization", "apps", "flux-system", kustomization_status(applied=PUSHED))
        )
    )
    lines: list[str] = []
    outcome = Waiter(
        [Target("staging", ("api", "worker"), kustomization_source(reconcile=True), "1.4.2")],
        Ancestry(PUSHED),
        WaitSettings(poll_seconds=5, timeout_seconds=60),
        narrator=Narrator(write=lines.append),
        clock=fake_time.clock,
        stop=fake_time.stop,
    ).run()
    assert outcome.status == "healthy" and outcome.seconds == 10.0
    assert [s.app for s in outcome.states] == ["api", "worker"]
    assert lines == [
        "staging/api,worker: Reconciling (1.4.2), 0 s: Reconciliation in progress",
        "staging/api,worker: Reconciling -> Healthy (1.4.2), 10 s",
    ]


def test_wait_on_a_failed_health_check_fails(flux: FakeKube, fake_time) -> None:
    set_status(
        flux,
        "Kustomization",
        "apps",
        "flux-system",
        kustomization_status(applied=OLD, attempted=PUSHED, ready=HEALTH_FAILED),
    )
    outcome = Waiter(
        [Target("staging", ("api",), kustomization_source(), "1.4.2")],
        Ancestry(PUSHED),
        WaitSettings(poll_seconds=5, timeout_seconds=60),
        narrator=Narrator(write=lambda line: None),
        clock=fake_time.clock,
        stop=fake_time.stop,
    ).run()
    assert outcome.status == "failed"
    assert "Deployment/staging/api status: 'InProgress'" in outcome.failed[0].problem()


# -- a cluster that refuses the credentials ------------------------------------------------------------
@pytest.fixture
def refusing_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[None]:
    code = request.param

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            reason = "Forbidden" if code == 403 else "Unauthorized"
            body = json.dumps(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code}
            )
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "users": [{"name": "u", "user": {"token": "expired-token"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    (tmp_path / "kubeconfig").write_text(json.dumps(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "cache"))
    yield
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("refusing_cluster", [401, 403], indirect=True)
def test_refused_credentials_stop_the_wait(refusing_cluster: None) -> None:
    with pytest.raises(SourceAccessDenied) as caught:
        kustomization_source().observe()
    assert caught.value.exit_code == 1
    assert "RBAC" in (caught.value.hint or "")


def test_unreachable_cluster_is_transient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    (tmp_path / "kubeconfig").write_text(json.dumps(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "cache"))
    with pytest.raises(SourceUnavailable, match=r"connection to the server 127\.0\.0\.1:9 was refused"):
        kustomization_source().observe(budget=3)
