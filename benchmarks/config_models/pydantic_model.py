"""The promoter.yaml model written with pydantic v2 (dataclasses: positional construction like promoter's),
for the load-cost comparison in benchmarks/config_load.py. Same sections, keys, strictness and checks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
)
from pydantic.dataclasses import dataclass

from benchmarks.config_models import checks

C = ConfigDict(extra="forbid")
Text = Annotated[StrictStr, Field(min_length=1)]
Branch = Annotated[Text, AfterValidator(checks.branch)]
Url = Annotated[Text, AfterValidator(checks.url)]
Path = Annotated[Text, AfterValidator(checks.path)]
Seconds = Annotated[StrictInt | Text, AfterValidator(checks.duration)]
Clock = Annotated[Text, AfterValidator(checks.clock)]


def _shorthand(value: object) -> object:
    return {"file": value} if isinstance(value, str) else value


@dataclass(frozen=True, config=C)
class FileTarget:
    file: Path
    key: Text | None = None
    doc: Annotated[StrictInt, Field(ge=0)] | None = None


@dataclass(frozen=True, config=C)
class CopyRule:
    file: Path
    key: Text | None = None


@dataclass(frozen=True, config=C)
class ForgeConfig:
    type: Literal["gitlab", "github", "none"] = "none"
    url: Url | None = None
    project: Text | None = None
    app_id: Annotated[StrictInt, Field(ge=1)] | None = None
    installation_id: Annotated[StrictInt, Field(ge=1)] | None = None


@dataclass(frozen=True, config=C)
class GitSettings:
    author: Annotated[Text, AfterValidator(checks.author)] = "promoter <promoter@localhost>"
    message: Text = "{{ app }}: {{ env }} -> {{ tag }}"
    sign: Literal["none", "ssh", "openpgp"] = "none"
    commit_via: Literal["git", "api"] = "git"


@dataclass(frozen=True, config=C)
class ArgoCDSource:
    url: Url
    application: Text = "{{ app }}"
    app_namespace: Text | None = None
    insecure: StrictBool = False


@dataclass(frozen=True, config=C)
class FluxSource:
    kind: Literal["Kustomization", "HelmRelease"] = "Kustomization"
    name: Text = "{{ app }}"
    namespace: Text = "flux-system"
    reconcile: StrictBool = False


@dataclass(frozen=True, config=C)
class CommitStatusSource:
    contexts: Annotated[tuple[Text, ...], Field(min_length=1)]


@dataclass(frozen=True, config=C)
class PromoterSource:
    instance: Text | None = None


@dataclass(frozen=True, config=C)
class DeploySettings:
    argocd: ArgoCDSource | None = None
    flux: FluxSource | None = None
    commit_status: CommitStatusSource | None = Field(None, alias="commit-status")
    promoter: PromoterSource | None = None
    poll_seconds: Seconds = Field(5, alias="poll")
    timeout_seconds: Seconds = Field(600, alias="timeout")
    settle_seconds: Seconds = Field(0, alias="settle")


@dataclass(frozen=True, config=C)
class FreezeWindow:
    reason: Text
    start: datetime | Clock | None = Field(None, alias="from")
    until: datetime | None = None
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = ()
    daily_start: Clock | None = Field(None, alias="start")
    end: Clock | None = None
    timezone: Text = "UTC"


@dataclass(frozen=True, config=C)
class Environment:
    branch: Branch
    path: Annotated[StrictStr, AfterValidator(checks.path)] = ""
    approval: StrictBool = False
    labels: tuple[Text, ...] = ()
    reviewers: tuple[Text, ...] = ()
    assignees: tuple[Text, ...] = ()
    auto_merge: StrictBool = False
    url: Url | None = None
    deploy: DeploySettings | None = None
    freeze: tuple[FreezeWindow, ...] = ()


Targets = tuple[Annotated[FileTarget, BeforeValidator(_shorthand)], ...]


@dataclass(frozen=True, config=C)
class AppEnvironment:
    files: Annotated[Targets, Field(min_length=1)]


@dataclass(frozen=True, config=C)
class UpdatePolicy:
    strategy: Literal["semver", "digest", "newest-build", "alphabetical", "numerical"] = "semver"
    constraint: Text = "*"
    tag: Text | None = None
    tags: Text | None = None
    ignore: tuple[Text, ...] = ()
    environments: tuple[Text, ...] | None = None


@dataclass(frozen=True, config=C)
class App:
    image: Annotated[Text, AfterValidator(checks.image)]
    files: Targets = ()
    environments: Annotated[dict[str, AppEnvironment], AfterValidator(checks.names)] = Field(
        default_factory=dict
    )
    source_repo: Url | None = None
    source_ref: Text | None = None
    update: UpdatePolicy | None = None


@dataclass(frozen=True, config=C)
class Promotion:
    source: Text = Field(alias="from")
    target: Text = Field(alias="to")
    copy: tuple[Annotated[CopyRule, BeforeValidator(_shorthand)], ...] = ()
    soak_seconds: Seconds = Field(0, alias="soak")
    checks: tuple[Text, ...] = ()


@dataclass(frozen=True, config=C)
class PreviewSettings:
    branch: Branch = "dynamic-envs"
    dir: Path = "apps"
    template: Text = "argocd-application"
    ttl_seconds: Seconds = Field(604800, alias="ttl")
    max_delete: Annotated[StrictInt, Field(ge=0)] = 10
    values: dict[str, StrictStr | StrictInt | float | StrictBool] = Field(default_factory=dict)
    namespace: Text = "preview-{{ slug }}"


@dataclass(frozen=True, config=C)
class Config:
    version: Literal[1]
    environments: Annotated[dict[str, Environment], Field(min_length=1), AfterValidator(checks.names)]
    repo: Text | None = None
    forge: ForgeConfig = ForgeConfig()
    git: GitSettings = GitSettings()
    apps: Annotated[dict[str, App], AfterValidator(checks.names)] = Field(default_factory=dict)
    promotion: tuple[Promotion, ...] = ()
    previews: PreviewSettings = PreviewSettings()


def load(data: dict[str, object]) -> Config:
    return TypeAdapter(Config).validate_python(data)
