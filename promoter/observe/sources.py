"""From ``environments.<env>.deploy`` to the sources a wait polls, one per distinct deployment object.

The settings are read by attribute (the names of the config contract): ``argocd`` (``url``,
``application``, ``app_namespace``, ``insecure``), ``flux`` (``kind``, ``name``, ``namespace``,
``reconcile``), ``commit_status`` (``contexts``), ``promoter`` (``instance``), and ``poll_seconds``,
``timeout_seconds``, ``settle_seconds``. ``application`` and ``name`` are templates over ``app`` and
``env`` (and, for previews, the preview's variables such as ``slug``); both default to ``{{ app }}``.
Apps whose templates render to the same object share one target, so a Flux Kustomization that deploys
a whole environment is polled once however many apps it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from promoter.errors import ConfigError
from promoter.forge.base import Forge
from promoter.observe.source import Source, Target

DEFAULT_TEMPLATE = "{{ app }}"


class DeploySettings(Protocol):
    """What a wait needs from ``environments.<env>.deploy`` (see the config contract)."""

    @property
    def argocd(self) -> Any: ...
    @property
    def flux(self) -> Any: ...
    @property
    def commit_status(self) -> Any: ...
    @property
    def promoter(self) -> Any: ...
    @property
    def poll_seconds(self) -> float: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def settle_seconds(self) -> float: ...


@dataclass(frozen=True)
class AppToWait:
    name: str
    label: str = ""  # the tag being deployed, shown in progress lines


def source_kind(deploy: DeploySettings) -> str:
    for kind, attribute in (
        ("argocd", "argocd"),
        ("flux", "flux"),
        ("commit-status", "commit_status"),
        ("promoter", "promoter"),
    ):
        if getattr(deploy, attribute, None) is not None:
            return kind
    raise ConfigError("deploy names no source", hint="set one of argocd, flux, commit-status, promoter")


def build_targets(
    deploy: DeploySettings,
    *,
    env: str,
    apps: Sequence[AppToWait],
    revision: str | None,
    environ: Mapping[str, str],
    forge: Callable[[], Forge] | None = None,
    variables: Mapping[str, Any] | None = None,
    preview: bool = False,
    expect_annotations: Mapping[str, str] | None = None,
) -> list[Target]:
    """One :class:`Target` per distinct deployment object of ``apps`` in ``env``."""
    kind = source_kind(deploy)
    where = f"promoter.yaml: environments.{env}.deploy"
    targets: dict[str, tuple[Source, list[str], list[str]]] = {}
    shared_forge: Forge | None = None
    for app in apps:
        values = {**(variables or {}), "app": app.name, "env": env}
        source: Source
        if kind == "argocd":
            from promoter.observe.argocd import TOKEN_VAR, ArgoCDSource

            settings = deploy.argocd
            source = ArgoCDSource(
                settings.url,
                _render(getattr(settings, "application", None), values, f"{where}.argocd.application"),
                app_namespace=getattr(settings, "app_namespace", None),
                insecure=bool(getattr(settings, "insecure", False)),
                token=environ.get(TOKEN_VAR) or None,
                expect_annotations=expect_annotations,
                missing_ok=preview,
            )
        elif kind == "flux":
            from promoter.observe.flux import FluxSource

            settings = deploy.flux
            source = FluxSource(
                str(getattr(settings, "kind", None) or "Kustomization"),
                _render(getattr(settings, "name", None), values, f"{where}.flux.name"),
                str(getattr(settings, "namespace", None) or "flux-system"),
                reconcile=bool(getattr(settings, "reconcile", False)),
            )
        elif kind == "commit-status":
            from promoter.observe.commit_status import CommitStatusSource

            if revision is None:
                raise ConfigError("deploy.commit-status needs the pushed commit", where=where)
            if forge is None:
                raise ConfigError("deploy.commit-status needs a forge", where=where)
            shared_forge = shared_forge or forge()
            source = CommitStatusSource(shared_forge, revision, tuple(deploy.commit_status.contexts or ()))
        else:
            from promoter.observe.bundled import BundledSource

            settings = deploy.promoter
            source = BundledSource(
                str(getattr(settings, "instance", None) or environ.get("PROMOTER_INSTANCE") or "default"),
                str(getattr(settings, "namespace", None) or environ.get("PROMOTER_NAMESPACE") or "default"),
            )
        entry = targets.setdefault(source.key, (source, [], []))
        entry[1].append(app.name)
        if app.label and app.label not in entry[2]:
            entry[2].append(app.label)
    return [
        Target(env, tuple(names), source, ", ".join(labels)) for source, names, labels in targets.values()
    ]


def _render(template: str | None, values: Mapping[str, Any], where: str) -> str:
    from promoter.templating import PreviewTemplate, render_template

    text = render_template(PreviewTemplate(template or DEFAULT_TEMPLATE, where), values).strip()
    if not text:
        raise ConfigError(f"{where} renders to an empty name", where=where)
    return text
