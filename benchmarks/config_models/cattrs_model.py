"""The promoter.yaml model written with attrs + cattrs, for the load-cost comparison in
benchmarks/config_load.py. Same sections, keys, strictness (hooks refuse coercion) and checks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs
import cattrs
from attrs import field, frozen

from benchmarks.config_models import checks


def _strict(kind: type):  # cattrs coerces by default (str(1) == "1"): refuse instead
    def hook(value: object, _type: object) -> object:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


def _seconds(minimum: int = 1):
    return lambda value: checks.duration(value, minimum)


def _non_empty(_self: object, attribute: attrs.Attribute, value: object) -> None:
    if value == "":
        raise ValueError(f"{attribute.name} must not be empty")


@frozen
class FileTarget:
    file: str = field(converter=checks.path, validator=_non_empty)
    key: str | None = None
    doc: int | None = field(default=None, validator=attrs.validators.optional(attrs.validators.ge(0)))


@frozen
class CopyRule:
    file: str = field(converter=checks.path)
    key: str | None = None


@frozen
class ForgeConfig:
    type: Literal["gitlab", "github", "none"] = "none"
    url: str | None = field(default=None, converter=attrs.converters.optional(checks.url))
    project: str | None = None
    app_id: int | None = None
    installation_id: int | None = None


@frozen
class GitSettings:
    author: str = field(default="promoter <promoter@localhost>", converter=checks.author)
    message: str = "{{ app }}: {{ env }} -> {{ tag }}"
    sign: Literal["none", "ssh", "openpgp"] = "none"
    commit_via: Literal["git", "api"] = "git"


@frozen
class ArgoCDSource:
    url: str = field(converter=checks.url)
    application: str = "{{ app }}"
    app_namespace: str | None = None
    insecure: bool = False


@frozen
class FluxSource:
    kind: Literal["Kustomization", "HelmRelease"] = "Kustomization"
    name: str = "{{ app }}"
    namespace: str = "flux-system"
    reconcile: bool = False


@frozen
class CommitStatusSource:
    contexts: tuple[str, ...]


@frozen
class PromoterSource:
    instance: str | None = None


@frozen
class DeploySettings:
    argocd: ArgoCDSource | None = None
    flux: FluxSource | None = None
    commit_status: CommitStatusSource | None = None
    promoter: PromoterSource | None = None
    poll: int | str = field(default=5, converter=_seconds())
    timeout: int | str = field(default=600, converter=_seconds())
    settle: int | str = field(default=0, converter=_seconds(0))


@frozen
class FreezeWindow:
    reason: str
    start: str | None = None
    until: str | None = None
    days: tuple[str, ...] = ()
    end: str | None = None
    timezone: str = "UTC"


@frozen
class Environment:
    branch: str = field(converter=checks.branch)
    path: str = field(default="", converter=checks.path)
    approval: bool = False
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    auto_merge: bool = False
    url: str | None = field(default=None, converter=attrs.converters.optional(checks.url))
    deploy: DeploySettings | None = None
    freeze: tuple[FreezeWindow, ...] = ()


@frozen
class AppEnvironment:
    files: tuple[FileTarget, ...]


@frozen
class UpdatePolicy:
    strategy: Literal["semver", "digest", "newest-build", "alphabetical", "numerical"] = "semver"
    constraint: str = "*"
    tag: str | None = None
    tags: str | None = None
    ignore: tuple[str, ...] = ()
    environments: tuple[str, ...] | None = None


@frozen
class App:
    image: str = field(converter=checks.image)
    files: tuple[FileTarget, ...] = ()
    environments: dict[str, AppEnvironment] = field(factory=dict, converter=checks.names)
    source_repo: str | None = field(default=None, converter=attrs.converters.optional(checks.url))
    source_ref: str | None = None
    update: UpdatePolicy | None = None


@frozen
class Promotion:
    source: str
    target: str
    copy: tuple[CopyRule, ...] = ()
    soak: int | str = field(default=0, converter=_seconds(0))
    checks: tuple[str, ...] = ()


@frozen
class PreviewSettings:
    branch: str = field(default="dynamic-envs", converter=checks.branch)
    dir: str = field(default="apps", converter=checks.path)
    template: str = "argocd-application"
    ttl: int | str = field(default=604800, converter=_seconds())
    max_delete: int = 10
    values: dict[str, str | int | float | bool] = field(factory=dict)
    namespace: str = "preview-{{ slug }}"


@frozen
class Config:
    version: Literal[1]
    environments: dict[str, Environment] = field(converter=checks.names)
    repo: str | None = None
    forge: ForgeConfig = field(factory=ForgeConfig)
    git: GitSettings = field(factory=GitSettings)
    apps: dict[str, App] = field(factory=dict, converter=checks.names)
    promotion: tuple[Promotion, ...] = ()
    previews: PreviewSettings = field(factory=PreviewSettings)


converter = cattrs.Converter(forbid_extra_keys=True)
for kind in (str, int, bool):
    converter.register_structure_hook(kind, _strict(kind))
converter.register_structure_hook(int | str, lambda value, _type: value)
converter.register_structure_hook(str | int | float | bool, lambda value, _type: value)
converter.register_structure_hook(datetime, lambda value, _type: datetime.fromisoformat(value))
_shorthand = converter.gen_structure_attrs_fromdict(FileTarget)
converter.register_structure_hook(
    FileTarget, lambda v, t: _shorthand({"file": v} if isinstance(v, str) else v, t)
)
_copy = converter.gen_structure_attrs_fromdict(CopyRule)
converter.register_structure_hook(CopyRule, lambda v, t: _copy({"file": v} if isinstance(v, str) else v, t))
_renames = {"from": "source", "to": "target"}
_promotion = converter.gen_structure_attrs_fromdict(Promotion)
converter.register_structure_hook(
    Promotion, lambda v, t: _promotion({_renames.get(k, k): x for k, x in v.items()}, t)
)
_deploy = converter.gen_structure_attrs_fromdict(DeploySettings)
converter.register_structure_hook(
    DeploySettings,
    lambda v, t: _deploy({("commit_status" if k == "commit-status" else k): x for k, x in v.items()}, t),
)
_freeze = converter.gen_structure_attrs_fromdict(FreezeWindow)
converter.register_structure_hook(
    FreezeWindow, lambda v, t: _freeze({("start" if k == "from" else k): x for k, x in v.items()}, t)
)


def load(data: dict[str, object]) -> Config:
    return converter.structure(data, Config)
