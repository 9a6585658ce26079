"""From deploy settings (attribute names of the config contract) to targets: templates, sharing, tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from promoter import masking
from promoter.errors import ConfigError, TemplateError
from promoter.forge import make_forge
from promoter.observe.argocd import ArgoCDSource
from promoter.observe.bundled import BundledSource
from promoter.observe.commit_status import CommitStatusSource
from promoter.observe.flux import FluxSource
from promoter.observe.sources import AppToWait, build_targets


@dataclass(frozen=True)
class Deploy:
    argocd: Any = None
    flux: Any = None
    commit_status: Any = None
    promoter: Any = None
    poll_seconds: int = 5
    timeout_seconds: int = 600
    settle_seconds: int = 0


@dataclass(frozen=True)
class Argo:
    url: str = "https://argocd.example.com"
    application: str | None = None
    app_namespace: str | None = None
    insecure: bool = False


@dataclass(frozen=True)
class Flux:
    kind: str = "Kustomization"
    name: str | None = None
    namespace: str = "flux-system"
    reconcile: bool = False


APPS = [AppToWait("api", "1.4.2"), AppToWait("worker", "2.0.0")]


def test_argocd_application_template_and_token() -> None:
    deploy = Deploy(argocd=Argo(application="{{ app }}-{{ env }}", app_namespace="team-a"))
    targets = build_targets(
        deploy, env="staging", apps=APPS, revision="a" * 40, environ={"ARGOCD_AUTH_TOKEN": "argo-secret-1"}
    )
    assert [(t.apps, t.label) for t in targets] == [(("api",), "1.4.2"), (("worker",), "2.0.0")]
    source = targets[0].source
    assert isinstance(source, ArgoCDSource)
    assert (source.application, source.app_namespace, source.token) == (
        "api-staging",
        "team-a",
        "argo-secret-1",
    )
    assert masking.mask("argo-secret-1") == "***"


def test_default_application_is_the_app_name() -> None:
    targets = build_targets(Deploy(argocd=Argo()), env="staging", apps=APPS[:1], revision=None, environ={})
    assert targets[0].source.description == 'Argo CD application "api"'


def test_one_kustomization_for_the_whole_environment_is_polled_once() -> None:
    deploy = Deploy(flux=Flux(name="apps-{{ env }}", reconcile=True))
    (target,) = build_targets(deploy, env="staging", apps=APPS, revision="a" * 40, environ={})
    assert target.apps == ("api", "worker") and target.label == "1.4.2, 2.0.0"
    assert isinstance(target.source, FluxSource)
    assert (target.source.name, target.source.reconcile) == ("apps-staging", True)


def test_bundled_reconciler_instance_and_namespace() -> None:
    @dataclass(frozen=True)
    class Bundled:
        instance: str | None = "production"

    (target,) = build_targets(
        Deploy(promoter=Bundled()),
        env="production",
        apps=APPS,
        revision=None,
        environ={"PROMOTER_NAMESPACE": "ops"},
    )
    assert isinstance(target.source, BundledSource)
    assert target.source.key == "promoter:ops/production"


def test_commit_statuses_share_one_forge() -> None:
    @dataclass(frozen=True)
    class Statuses:
        contexts: tuple[str, ...] = ("kustomization/apps",)

    made = []

    def forge():  # type: ignore[no-untyped-def]
        made.append(1)
        return make_forge(None, {})

    (target,) = build_targets(
        Deploy(commit_status=Statuses()), env="staging", apps=APPS, revision="a" * 40, environ={}, forge=forge
    )
    assert isinstance(target.source, CommitStatusSource) and len(made) == 1


def test_broken_templates_and_empty_settings() -> None:
    with pytest.raises(TemplateError):
        build_targets(
            Deploy(argocd=Argo(application="{{ nope }}")), env="s", apps=APPS, revision=None, environ={}
        )
    with pytest.raises(ConfigError, match="names no source"):
        build_targets(Deploy(), env="s", apps=APPS, revision=None, environ={})
    with pytest.raises(ConfigError, match="http"):
        build_targets(
            Deploy(argocd=Argo(url="argocd.example.com")), env="s", apps=APPS, revision=None, environ={}
        )
