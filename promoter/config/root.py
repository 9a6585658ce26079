"""The top level of ``promoter.yaml``: :class:`Config`, and the rules that span its sections."""

import posixpath
from typing import Annotated, Any, Literal

import msgspec

from promoter.config.apps import App, Apps
from promoter.config.environments import Environment, Environments
from promoter.config.fieldtypes import Text
from promoter.config.forge import ForgeConfig
from promoter.config.git import GitSettings
from promoter.config.previews import PreviewSettings
from promoter.config.promotion import Promotion
from promoter.config.section import Problem, Section, describe, internal_name, known_names_hint
from promoter.errors import ConfigError

__all__ = ["SUPPORTED_VERSION", "Config"]

SUPPORTED_VERSION = 1


class Config(Section, frozen=True, kw_only=True):
    """An environment repository: its environments, the apps in them, and how promoter changes them."""

    example = "{version: 1, environments: {staging: {branch: staging}}}"
    schema_rules = {
        "patternProperties": {"^x-": {"description": "Ignored: a place for YAML anchors."}},
        "if": {
            "required": ["git"],
            "properties": {
                "git": {"required": ["commit_via"], "properties": {"commit_via": {"const": "api"}}}
            },
        },
        "then": {
            "required": ["forge"],
            "properties": {
                "forge": {"required": ["type"], "properties": {"type": {"enum": ["gitlab", "github"]}}}
            },
        },
    }

    version: Annotated[
        Literal[1], describe("The only version there is.", hint="this promoter reads version 1")
    ]
    repo: Annotated[
        Text | None,
        describe(
            "The env repo (URL, path or `file://` URL); `--repo` and `PROMOTER_REPO` override it.",
            default_text="none",
        ),
    ] = None
    forge: Annotated[ForgeConfig, describe("Where approval merge requests are opened.")] = ForgeConfig()
    git: Annotated[GitSettings, describe("Commit author, message and signature.")] = GitSettings()
    environments: Annotated[
        Environments, describe("At least one.", type_text="mapping of name -> environment")
    ]
    apps: Annotated[Apps, describe("The apps promoter changes.")] = msgspec.field(default_factory=Apps)
    promotion: Annotated[
        tuple[Promotion, ...], describe("Promotion paths.", type_text="list of promotion paths")
    ] = ()
    previews: Annotated[PreviewSettings, describe("Preview environments.")] = PreviewSettings()
    source: Annotated[str, describe("Where the config was read from (for messages).")] = msgspec.field(
        default="<config>", name=internal_name("source")
    )
    document: Annotated[Any, describe("The YAML it was read from, for places in messages.")] = msgspec.field(
        default=None, name=internal_name("document")
    )

    # equality and hashing ignore where the config came from
    def _compared(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self.__struct_fields__ if f not in ("source", "document"))

    def __eq__(self, other: object) -> bool:
        if type(other) is not Config:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def where(self, *path: str | int) -> str:
        """``file:line:col`` of the key at ``path`` (``where("environments", "production", "branch")``), or
        of its nearest parent written in the file; just the source when the config was not read from YAML."""
        if self.document is None:
            return self.source
        where: str = self.document.where(path)
        return where

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            raise _unknown_name("environment", name, list(self.environments), self.source) from None

    def app(self, name: str) -> App:
        try:
            return self.apps[name]
        except KeyError:
            raise _unknown_name("app", name, list(self.apps), self.source) from None

    def apps_for_image(self, image: str) -> list[App]:
        """Every app whose image names the same repository as ``image`` (tag and digest ignored).

        Raises :class:`~promoter.errors.ImageReferenceError` (exit 3) when ``image`` is not a reference.
        """
        from promoter.imageref import ImageRef

        wanted = ImageRef.parse(image)
        return [app for app in self.apps.values() if wanted.same_repository(app.image)]

    def promotion_rule(self, source: str, target: str) -> Promotion | None:
        for rule in self.promotion:
            if rule.source == source and rule.target == target:
                return rule
        return None

    def with_repo(self, repo: str | None) -> "Config":
        """A copy whose env repo is ``repo`` (``--repo`` and ``PROMOTER_REPO`` override the file)."""
        return self if repo is None else msgspec.structs.replace(self, repo=repo)

    def as_dict(self) -> dict[str, Any]:
        """The config in ``promoter.yaml`` shape (parsing this dict's JSON gives an equal Config)."""
        from promoter.config.dump import dump_section

        return dump_section(self)

    def check(self) -> None:
        self._check_shared_directories()
        self._check_apps()
        self._check_promotion()
        if self.git.commit_via == "api" and self.forge.type == "none":
            raise Problem(
                "{label} needs a forge: commits through the API are made by GitLab or GitHub",
                at=("git", "commit_via"),
                hint="set forge: {type: gitlab} or {type: github}, or commit_via: git",
            )

    def _require_environment(self, name: str, at: tuple[str | int, ...], what: str) -> None:
        if name not in self.environments:
            raise Problem(
                "{what} names unknown environment {name!r}",
                at=at,
                what=what,
                name=name,
                hint=known_names_hint("environment", name, list(self.environments)),
            )

    def _check_shared_directories(self) -> None:
        seen: dict[tuple[str, str], str] = {}
        for name, env in self.environments.items():
            spot = (env.branch, posixpath.normpath(env.path or "."))
            if spot in seen:
                raise Problem(
                    "environments {first!r} and {name!r} share branch {branch!r} and path {path!r}",
                    at=("environments", name),
                    first=seen[spot],
                    name=name,
                    branch=env.branch,
                    path=env.path or "/",
                    hint="give each environment its own branch or its own path",
                )
            seen[spot] = name

    def _check_apps(self) -> None:
        for app in self.apps.values():
            for env_name in app.env_files:
                self._require_environment(
                    env_name, ("apps", app.name, "environments", env_name), f"app {app.name!r}"
                )
            if app.update is not None and app.update.environments is not None:
                for index, env_name in enumerate(app.update.environments):
                    at = ("apps", app.name, "update", "environments", index)
                    self._require_environment(env_name, at, f"app {app.name!r} update")

    def _check_promotion(self) -> None:
        pairs: dict[tuple[str, str], int] = {}
        for index, rule in enumerate(self.promotion):
            self._require_environment(rule.source, ("promotion", index, "from"), "promotion")
            self._require_environment(rule.target, ("promotion", index, "to"), "promotion")
            if (rule.source, rule.target) in pairs:
                raise Problem(
                    "promotion {source} -> {target} is listed twice",
                    at=("promotion", index),
                    source=rule.source,
                    target=rule.target,
                    hint=f"first as promotion[{pairs[rule.source, rule.target]}]",
                )
            pairs[rule.source, rule.target] = index


def _unknown_name(kind: str, name: str, known: list[str], source: str) -> ConfigError:
    hint = known_names_hint(kind, name, known) if known else f"{source} defines no {kind}s"
    return ConfigError(f"unknown {kind} {name!r}", where=source, hint=hint)
