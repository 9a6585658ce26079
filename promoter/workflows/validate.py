"""``promoter validate``: check the config, and the env repo against it, reporting every problem in one run.

Read-only. Besides the model's own rules (checked when the config loads) it checks what only the whole
picture shows:

- config: promotion paths form no cycle; the templates in promoter.yaml (``git.message``, deployment
  names, ``source_ref``, ``previews.namespace``) render with sample values; ``update`` names environments the
  app runs in and has one to change; what needs a forge (commit-status sources, promotion checks) has one;
- content (the env repo): every environment's branch and path exist; every file of every app exists in every
  environment the app runs in and parses; every ``key:`` resolves and every file without a key holds a
  reference to the app's image; the preview template (when there is a ``previews`` section) renders with
  sample values.

A problem in the config makes the run exit 2, else a problem in the content exits 3. ``local_branch`` reads
that branch from a directory (a merge request's checkout) instead of the env repo, so the env repo's own
pipeline can check a change before it is merged.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from promoter.config import App, Config, Environment
from promoter.errors import EXIT_INPUT, EXIT_OK, EXIT_USAGE, InputError, PromoterError
from promoter.workflows.session import Session

__all__ = ["Finding", "ValidationReport", "finding_from_error", "validate"]

Kind = Literal["config", "content"]

SAMPLE_TAG = "1.2.3"
SAMPLE_BRANCH = "feature/sample-change"


@dataclass(frozen=True)
class Finding:
    """One problem: in the config or in the env repo's content, with its place and what to do."""

    kind: Kind
    message: str
    where: str | None = None
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "where": self.where, "hint": self.hint}

    def line(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def finding_from_error(error: PromoterError, kind: Kind | None = None) -> Finding:
    """A promoter error as a finding; its exit code says where the problem is unless ``kind`` does."""
    chosen: Kind = kind or ("config" if error.exit_code == EXIT_USAGE else "content")
    return Finding(chosen, error.message, error.where, error.hint)


@dataclass
class ValidationReport:
    problems: list[Finding] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def exit_code(self) -> int:
        kinds = {problem.kind for problem in self.problems}
        return EXIT_USAGE if "config" in kinds else EXIT_INPUT if kinds else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "problems": [problem.as_dict() for problem in self.problems],
            "checked": {
                "environments": self.environments,
                "apps": self.apps,
                "branches": self.branches,
                "files": self.files,
            },
            "exit_code": self.exit_code,
        }


def validate(
    session: Session,
    *,
    envs: Sequence[str] = (),
    local_branch: str | None = None,
    cwd: Path | None = None,
) -> ValidationReport:
    """Check ``session``'s config and env repo (only ``envs`` when given); see the module docstring."""
    config = session.config
    chosen = [config.environment(name) for name in envs] or list(config.environments.values())
    report = ValidationReport(
        environments=[env.name for env in chosen],
        apps=sorted({app.name for env in chosen for app in _apps_in(config, env)}),
    )
    checks = _ConfigChecks(config, report)
    checks.promotion_cycles()
    checks.templates(chosen)
    checks.update_policies(chosen)
    checks.forge_needs(chosen)
    with session.env_repo(sparse=[], read_only=True) as repo:
        content = _ContentChecks(config, report, repo, local_branch, cwd or Path.cwd())
        content.environments(chosen)
        content.preview_template()
    report.problems = list(dict.fromkeys(report.problems))  # a template shared by several apps: once
    report.problems.sort(key=lambda problem: problem.kind != "config")
    return report


def _apps_in(config: Config, env: Environment) -> list[App]:
    """The apps that run in ``env``: those with files there."""
    return [app for app in config.apps.values() if app.files_for(env.name)]


# -------------------------------------------------------------------------------------------------
# the config as a whole
# -------------------------------------------------------------------------------------------------
class _ConfigChecks:
    def __init__(self, config: Config, report: ValidationReport) -> None:
        self.config = config
        self.report = report

    def add(self, message: str, *path: str | int, hint: str | None = None) -> None:
        self.report.problems.append(Finding("config", message, self.config.where(*path), hint))

    def promotion_cycles(self) -> None:
        edges: dict[str, list[tuple[str, int]]] = {}
        for index, rule in enumerate(self.config.promotion):
            edges.setdefault(rule.source, []).append((rule.target, index))
        seen: set[tuple[str, ...]] = set()
        for cycle, closing in _cycles(edges):
            canonical = _rotate(cycle)
            if canonical in seen:
                continue
            seen.add(canonical)
            self.add(
                f"promotion paths form a cycle: {' -> '.join((*cycle, cycle[0]))}",
                "promotion",
                closing,
                hint="promotion goes one way; remove one of these paths",
            )

    def templates(self, envs: Sequence[Environment]) -> None:
        from promoter.templating import render_namespace
        from promoter.workflows.messages import render_message_template

        config = self.config
        first = next(iter(config.apps.values()), None)
        app_name = first.name if first else "api"
        sample = {
            "app": app_name,
            "env": envs[0].name if envs else "staging",
            "tag": SAMPLE_TAG,
            "image": first.image if first else "registry.example.com/acme/api",
            "old_tag": "1.2.2",
            "apps": [{"name": app_name, "tag": SAMPLE_TAG, "image": "", "old": ["1.2.2"]}],
        }
        try:
            render_message_template(config.git.message, sample, source=config.where("git", "message"))
        except PromoterError as exc:
            self.add(exc.message, "git", "message", hint=exc.hint)
        for app in config.apps.values():
            if app.source_ref is not None:
                values = {"tag": SAMPLE_TAG, "app": app.name}
                self._name(app.source_ref, values, ("apps", app.name, "source_ref"))
        for env in envs:
            deploy = env.deploy
            names = [app.name for app in _apps_in(config, env)] or [app_name]
            if deploy is not None and deploy.argocd is not None:
                for name in names:
                    path = ("environments", env.name, "deploy", "argocd", "application")
                    self._name(deploy.argocd.application, {"app": name, "env": env.name}, path)
            if deploy is not None and deploy.flux is not None:
                for name in names:
                    path = ("environments", env.name, "deploy", "flux", "name")
                    self._name(deploy.flux.name, {"app": name, "env": env.name}, path)
        previews = config.previews
        try:
            render_namespace(previews.namespace, slug="feature-sample-change", id=1, extra=previews.values)
        except PromoterError as exc:
            self.add(f"the template does not render: {exc.message}", "previews", "namespace", hint=exc.hint)

    def _name(self, template: str, values: dict[str, Any], path: tuple[str | int, ...]) -> None:
        """A name template of promoter.yaml renders with ``values`` to something not empty."""
        from promoter.templating import PreviewTemplate, render_template

        try:
            text = render_template(PreviewTemplate(template, self.config.where(*path)), values)
        except PromoterError as exc:
            self.add(f"the template does not render with sample values: {exc.message}", *path, hint=exc.hint)
            return
        if not text.strip():
            self.add(f"the template renders to an empty name with {values}", *path)

    def update_policies(self, envs: Sequence[Environment]) -> None:
        config = self.config
        names = {env.name for env in envs}
        for app in config.apps.values():
            policy = app.update
            if policy is None:
                continue
            runs_in = [env for env in config.environments.values() if app.files_for(env.name)]
            if policy.environments is not None:
                for index, name in enumerate(policy.environments):
                    if name in names and not app.files_for(name):
                        self.add(
                            f"app {app.name!r} update names environment {name!r}, where the app does not run",
                            "apps",
                            app.name,
                            "update",
                            "environments",
                            index,
                            hint=f"give the app files in {name}, or remove {name} here",
                        )
            elif runs_in and all(env.approval for env in runs_in):
                self.add(
                    f"app {app.name!r} update has no environment to change: every environment it runs in "
                    "needs approval",
                    "apps",
                    app.name,
                    "update",
                    hint="list the environments update may change in update.environments",
                )

    def forge_needs(self, envs: Sequence[Environment]) -> None:
        if self.config.forge.type != "none":
            return
        hint = "set forge: {type: gitlab} or {type: github}: commit statuses are read from the forge"
        for env in envs:
            if env.deploy is not None and env.deploy.commit_status is not None:
                self.add(
                    f"environment {env.name!r} reads commit statuses but no forge is set",
                    "environments",
                    env.name,
                    "deploy",
                    "commit-status",
                    hint=hint,
                )
        for index, rule in enumerate(self.config.promotion):
            if rule.checks:
                self.add(
                    f"promotion {rule.source} -> {rule.target} requires checks but no forge is set",
                    "promotion",
                    index,
                    "checks",
                    hint=hint,
                )


def _cycles(edges: dict[str, list[tuple[str, int]]]) -> Iterator[tuple[tuple[str, ...], int]]:
    """Every cycle reachable in ``edges`` (node -> [(next, rule index)]), with the index closing it."""
    for start in sorted(edges):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for target, index in edges.get(node, []):
                if target == start:
                    yield tuple(path), index
                elif target not in path and target > start:  # each cycle from its smallest node
                    stack.append((target, [*path, target]))


def _rotate(cycle: tuple[str, ...]) -> tuple[str, ...]:
    smallest = cycle.index(min(cycle))
    return cycle[smallest:] + cycle[:smallest]


# -------------------------------------------------------------------------------------------------
# the env repo's content
# -------------------------------------------------------------------------------------------------
class _LocalTree:
    """One branch read from a directory (a merge request's checkout); links are refused, never followed."""

    def __init__(self, root: Path, branch: str) -> None:
        self.root = root
        self.branch = branch

    def _inside(self, rel: str) -> Path | None:
        """The path of ``rel`` under the root, or None when it is absent; refuses a link on the way."""
        current = self.root
        for part in rel.split("/"):
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                return None
            if stat.S_ISLNK(mode):
                raise InputError(
                    f"{rel} is or passes through a symbolic link; promoter does not follow links",
                    where=f"{self.branch}:{rel}",
                )
        return current

    def read_files(self, paths: Iterable[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for rel in paths:
            found = self._inside(rel)
            if found is None or not found.is_file():
                out[rel] = None
                continue
            try:
                out[rel] = found.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{rel} is not UTF-8 text", where=f"{self.branch}:{rel}") from None
        return out

    def has_directory(self, rel: str) -> bool:
        found = self._inside(rel)
        return found is not None and found.is_dir()


class _ContentChecks:
    def __init__(
        self, config: Config, report: ValidationReport, repo: Any, local_branch: str | None, cwd: Path
    ) -> None:
        self.config = config
        self.report = report
        self.repo = repo
        self.local_branch = local_branch
        self.cwd = cwd

    def add(self, message: str, where: str | None, hint: str | None = None) -> None:
        self.report.problems.append(Finding("content", message, where, hint))

    def environments(self, envs: Sequence[Environment]) -> None:
        from promoter import progress

        grouped: dict[str, list[Environment]] = {}
        for env in envs:
            grouped.setdefault(env.branch, []).append(env)
        self.report.branches = list(grouped)
        with progress.progress("checking the env repo", total=len(grouped), unit="branches") as shown:
            for branch, members in grouped.items():
                try:
                    self._branch(branch, members)
                except InputError as exc:
                    self.report.problems.append(finding_from_error(exc, "content"))
                shown.advance(detail=branch)

    def _branch(self, branch: str, envs: list[Environment]) -> None:
        local = _LocalTree(self.cwd, branch) if branch == self.local_branch else None
        if local is None and self.repo.head(branch) is None:
            for env in envs:
                self.add(
                    f"environment {env.name!r}: branch {branch!r} does not exist in {self.repo.url}",
                    self.config.where("environments", env.name, "branch"),
                    hint="create the branch, or fix the environment's branch in promoter.yaml",
                )
            return
        wanted = {
            env.file_path(target.file): None
            for env in envs
            for app in _apps_in(self.config, env)
            for target in app.files_for(env.name)
        }
        texts = local.read_files(wanted) if local else self.repo.read_files(branch, list(wanted))
        self.report.files += len(wanted)
        for env in envs:
            if env.path and not self._has_directory(local, branch, env.path):
                self.add(
                    f"environment {env.name!r}: path {env.path!r} does not exist on branch {branch!r}",
                    f"{branch}:{env.path}",
                    hint=f"fix environments.{env.name}.path "
                    f"({self.config.where('environments', env.name, 'path')})",
                )
            for app in _apps_in(self.config, env):
                for target in app.files_for(env.name):
                    path = env.file_path(target.file)
                    self._file(env, app, target, path, texts.get(path))

    def _has_directory(self, local: _LocalTree | None, branch: str, path: str) -> bool:
        if local is not None:
            return local.has_directory(path.strip("/"))
        return bool(self.repo.list_files(branch, path))

    def _file(self, env: Environment, app: App, target: Any, path: str, text: str | None) -> None:
        from promoter.imageref import ImageRef
        from promoter.yamledit import YamlDocument
        from promoter.yamledit.finders import find_sites

        where = f"{env.branch}:{path}"
        if text is None:
            self.add(
                f"app {app.name!r} in {env.name!r}: {path} does not exist on branch {env.branch!r}",
                where,
                hint="add the file, or fix the app's files in promoter.yaml",
            )
            return
        try:
            document = YamlDocument.parse(text, where)
            if target.key is not None:
                document.locate(target.key, target.doc)
                return
            image = ImageRef.parse(app.image)
            sites = find_sites(document, near=image)
        except PromoterError as exc:
            self.report.problems.append(finding_from_error(exc, "content"))
            return
        if not any(site.image.same_repository(image) for site in sites):
            found = sorted({site.image.name for site in sites})
            self.add(
                f"app {app.name!r} in {env.name!r}: no reference to {app.image} in {path}",
                where,
                hint="images found there: "
                + (", ".join(found[:10]) or "none")
                + "; or give the key in promoter.yaml (files: [{file: ..., key: ...}])",
            )

    def preview_template(self) -> None:
        from promoter.templating import (
            BUNDLED_TEMPLATES,
            PreviewContext,
            load_template,
            render_preview,
        )

        config = self.config
        previews = config.previews
        if config.document is not None and config.document.kind(("previews",)) is None:
            return  # no previews section: this env repo has no preview environments
        try:
            if previews.template in BUNDLED_TEMPLATES:
                template = load_template(previews.template)
            elif Path(config.source).is_file():
                template = load_template(previews.template, base_dir=Path(config.source).parent)
            else:
                template = self._template_from_repo(previews.template)
            if template is None:
                return
            app = next(iter(config.apps.values()), None)
            ctx = PreviewContext.create(
                id=1,
                branch=SAMPLE_BRANCH,
                tag=SAMPLE_TAG,
                image=app.image if app else "registry.example.com/acme/app",
                project=config.forge.project or "acme/app",
                sha="0" * 40,
                author="promoter",
                title="A sample change",
                namespace_template=previews.namespace,
                extra=dict(previews.values),
            )
            render_preview(template, ctx)
        except PromoterError as exc:
            finding = finding_from_error(exc, "content")
            self.report.problems.append(
                Finding(finding.kind, f"preview template: {finding.message}", finding.where, finding.hint)
            )

    def _template_from_repo(self, ref: str) -> Any:
        from promoter.templating import PreviewTemplate

        branch = self.repo.default_branch()
        text = self.repo.read_files(branch, [ref])[ref]
        if text is None:
            self.add(
                f"preview template {ref!r} does not exist on branch {branch!r}",
                f"{branch}:{ref}",
                hint="give previews.template as a path relative to promoter.yaml, or a bundled template name",
            )
            return None
        return PreviewTemplate(text, f"{branch}:{ref}")
