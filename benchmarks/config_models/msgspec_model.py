"""The promoter.yaml model written with plain msgspec structs (the same checks as the other prototypes), for
the load-cost comparison in benchmarks/config_load.py: the library's own cost, without promoter's extras."""

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, field
from msgspec.structs import force_setattr

from benchmarks.config_models import checks

Text = Annotated[str, Meta(min_length=1)]


class S(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class FileTarget(S, frozen=True):
    file: Text
    key: Text | None = None
    doc: Annotated[int, Meta(ge=0)] | None = None

    def __post_init__(self) -> None:
        checks.path(self.file)


class CopyRule(S, frozen=True):
    file: Text
    key: Text | None = None

    def __post_init__(self) -> None:
        checks.path(self.file)


class ForgeConfig(S, frozen=True):
    type: Literal["gitlab", "github", "none"] = "none"
    url: Text | None = None
    project: Text | None = None
    app_id: Annotated[int, Meta(ge=1)] | None = None
    installation_id: Annotated[int, Meta(ge=1)] | None = None

    def __post_init__(self) -> None:
        if self.url is not None:
            checks.url(self.url)


class GitSettings(S, frozen=True):
    author: Text = "promoter <promoter@localhost>"
    message: Text = "{{ app }}: {{ env }} -> {{ tag }}"
    sign: Literal["none", "ssh", "openpgp"] = "none"
    commit_via: Literal["git", "api"] = "git"

    def __post_init__(self) -> None:
        checks.author(self.author)


class ArgoCDSource(S, frozen=True):
    url: Text
    application: Text = "{{ app }}"
    app_namespace: Text | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        checks.url(self.url)


class FluxSource(S, frozen=True):
    kind: Literal["Kustomization", "HelmRelease"] = "Kustomization"
    name: Text = "{{ app }}"
    namespace: Text = "flux-system"
    reconcile: bool = False


class CommitStatusSource(S, frozen=True):
    contexts: Annotated[tuple[Text, ...], Meta(min_length=1)]


class PromoterSource(S, frozen=True):
    instance: Text | None = None


class DeploySettings(S, frozen=True):
    argocd: ArgoCDSource | None = None
    flux: FluxSource | None = None
    commit_status: CommitStatusSource | None = field(default=None, name="commit-status")
    promoter: PromoterSource | None = None
    poll_seconds: int | Text = field(default=5, name="poll")
    timeout_seconds: int | Text = field(default=600, name="timeout")
    settle_seconds: int | Text = field(default=0, name="settle")

    def __post_init__(self) -> None:
        force_setattr(self, "poll_seconds", checks.duration(self.poll_seconds))
        force_setattr(self, "timeout_seconds", checks.duration(self.timeout_seconds))
        force_setattr(self, "settle_seconds", checks.duration(self.settle_seconds, 0))


class FreezeWindow(S, frozen=True):
    reason: Text
    start: datetime | None = field(default=None, name="from")
    until: datetime | None = None
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = ()
    daily_start: Text | None = field(default=None, name="start")
    end: Text | None = None
    timezone: Text = "UTC"


class Environment(S, frozen=True):
    branch: Text
    path: str = ""
    approval: bool = False
    labels: tuple[Text, ...] = ()
    reviewers: tuple[Text, ...] = ()
    assignees: tuple[Text, ...] = ()
    auto_merge: bool = False
    url: Text | None = None
    deploy: DeploySettings | None = None
    freeze: tuple[FreezeWindow, ...] = ()

    def __post_init__(self) -> None:
        checks.branch(self.branch)
        checks.path(self.path)


Targets = tuple[Text | FileTarget, ...]


class AppEnvironment(S, frozen=True):
    files: Annotated[Targets, Meta(min_length=1)]


class UpdatePolicy(S, frozen=True):
    strategy: Literal["semver", "digest", "newest-build", "alphabetical", "numerical"] = "semver"
    constraint: Text = "*"
    tag: Text | None = None
    tags: Text | None = None
    ignore: tuple[Text, ...] = ()
    environments: tuple[Text, ...] | None = None


class App(S, frozen=True):
    image: Text
    files: Targets = ()
    environments: dict[str, AppEnvironment] = {}
    source_repo: Text | None = None
    source_ref: Text | None = None
    update: UpdatePolicy | None = None

    def __post_init__(self) -> None:
        checks.image(self.image)
        checks.names(self.environments)
        force_setattr(self, "files", tuple(FileTarget(f) if isinstance(f, str) else f for f in self.files))


class Promotion(S, frozen=True):
    source: Text = field(name="from")
    target: Text = field(name="to")
    copy: tuple[Text | CopyRule, ...] = ()
    soak_seconds: int | Text = field(default=0, name="soak")
    checks: tuple[Text, ...] = ()

    def __post_init__(self) -> None:
        force_setattr(self, "soak_seconds", checks.duration(self.soak_seconds, 0))


class PreviewSettings(S, frozen=True):
    branch: Text = "dynamic-envs"
    dir: Text = "apps"
    template: Text = "argocd-application"
    ttl_seconds: int | Text = field(default=604800, name="ttl")
    max_delete: Annotated[int, Meta(ge=0)] = 10
    values: dict[str, str | int | float | bool] = {}
    namespace: Text = "preview-{{ slug }}"

    def __post_init__(self) -> None:
        force_setattr(self, "ttl_seconds", checks.duration(self.ttl_seconds))


class Config(S, frozen=True, kw_only=True):
    version: Literal[1]
    environments: Annotated[dict[str, Environment], Meta(min_length=1)]
    repo: Text | None = None
    forge: ForgeConfig = ForgeConfig()
    git: GitSettings = GitSettings()
    apps: dict[str, App] = {}
    promotion: tuple[Promotion, ...] = ()
    previews: PreviewSettings = PreviewSettings()

    def __post_init__(self) -> None:
        checks.names(self.environments)
        checks.names(self.apps)


def load(data: dict[str, object]) -> Config:
    return msgspec.convert(data, Config, strict=True)
