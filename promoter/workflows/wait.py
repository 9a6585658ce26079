"""``promoter wait ENV``: wait until the environment's head (or a given commit) is deployed and healthy.

Also the second half of ``bump --wait``, ``promote --wait`` and ``preview up --wait``: those pass the
commit they pushed, the apps and the tags they wrote. The deployment is observed through the environment's
``deploy`` section (:mod:`promoter.observe.sources`); the outcome is reported to the app pipeline's forge
(:mod:`promoter.observe.report`) unless reporting is off. The result says how the wait ended; the command
line turns "failed" into exit 6 and "timeout" into exit 7.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promoter.config import App, Environment
from promoter.errors import ConfigError, GitError, PromoterError, UsageError
from promoter.observe.ancestry import Ancestry
from promoter.observe.model import Outcome
from promoter.observe.report import DeployReport, make_reporting
from promoter.observe.sources import AppToWait, DeploySettings, build_targets
from promoter.observe.wait import Waiter, WaitSettings
from promoter.templating import ANNOTATION_TAG
from promoter.workflows.deployed import app_paths, read_versions
from promoter.workflows.session import Session

LOG = logging.getLogger("promoter.wait")


@dataclass(frozen=True)
class PreviewWait:
    """What ``preview up --wait`` knows about the preview it wrote."""

    name: str  # the environment's name on the forge, e.g. "preview/pr-7-fix-login"
    branch: str  # the previews branch (dynamic-envs)
    variables: Mapping[str, Any]  # slug, id, namespace, ... for the deploy templates
    tag: str
    url: str | None = None


@dataclass(frozen=True)
class WaitRequest:
    env: str
    apps: tuple[str, ...] = ()  # default: every app with files in the environment
    revision: str | None = None  # default: the head of the environment's branch
    timeout_seconds: float | None = None  # default: deploy.timeout
    report: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)  # app -> tag being deployed
    preview: PreviewWait | None = None


@dataclass
class WaitResult:
    env: str
    outcome: Outcome
    env_url: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.outcome.status

    def as_dict(self) -> dict[str, Any]:
        return {"env": self.env, "env_url": self.env_url, **self.outcome.as_dict(), "warnings": self.warnings}


def deploy_settings(env: Environment, source: str) -> DeploySettings:
    deploy = env.deploy
    if deploy is None:
        raise ConfigError(
            f"environment {env.name} has no deploy section: promoter does not know how to observe it",
            where=source,
            hint=f"add environments.{env.name}.deploy with one of argocd, flux, commit-status, promoter "
            "(docs/config.md)",
        )
    return deploy


@dataclass
class _Plan:
    """Where to look: the deploy settings, the branch, the sparse paths, the apps and how to name them."""

    deploy: DeploySettings
    name: str  # the environment's name (on the forge too)
    branch: str
    paths: list[str]
    url: str | None
    environment: Environment | None = None
    apps: list[App] = field(default_factory=list)
    preview: PreviewWait | None = None

    @property
    def group(self) -> str:
        """The first half of progress lines' ``group/app``: the environment, or "preview"."""
        return "preview" if self.preview is not None else self.name


def wait_for_deploy(
    session: Session, request: WaitRequest, *, stop: threading.Event | None = None
) -> WaitResult:
    plan = _preview_plan(session, request.preview) if request.preview else _env_plan(session, request)
    timeout = request.timeout_seconds or float(plan.deploy.timeout_seconds)
    if timeout <= 0:
        raise UsageError("the wait timeout must be positive")
    settings = WaitSettings(
        poll_seconds=max(float(plan.deploy.poll_seconds), 1.0),
        timeout_seconds=timeout,
        settle_seconds=float(plan.deploy.settle_seconds),
    )
    with session.env_repo(plan.paths) as repo:
        revision = request.revision or repo.head(plan.branch)
        if revision is None:
            raise GitError(f"branch {plan.branch} does not exist in the env repo", where=session.repo_url)
        wanted = _wanted(repo, plan, request, revision)
        preview = plan.preview
        targets = build_targets(
            plan.deploy,
            env=plan.group,
            apps=wanted,
            revision=revision,
            environ=session.environ,
            forge=lambda: _forge(session),
            variables=dict(preview.variables) if preview else None,
            preview=preview is not None,
            expect_annotations={ANNOTATION_TAG: preview.tag} if preview else None,
        )
        report = DeployReport(
            env=plan.name,
            apps=tuple(app.name for app in wanted),
            version=", ".join(dict.fromkeys(app.label for app in wanted if app.label)),
            revision=revision,
            env_url=plan.url,
            transient=preview is not None,
        )
        reporting = make_reporting(session.ci, session.environ, enabled=request.report)
        reporting.start(report)
        waiter = Waiter(targets, Ancestry(revision, branch=plan.branch, repo=repo), settings, stop=stop)
        try:
            outcome = waiter.run()
        except PromoterError:
            reporting.finish(report, Outcome(status="interrupted", states=[], seconds=0.0, revision=revision))
            raise
        reporting.finish(report, outcome)
    return WaitResult(env=plan.name, outcome=outcome, env_url=plan.url, warnings=list(reporting.warnings))


def _env_plan(session: Session, request: WaitRequest) -> _Plan:
    config = session.config
    env = config.environment(request.env)
    deploy = deploy_settings(env, config.source)
    apps = _apps(session, env, request.apps)
    return _Plan(deploy, env.name, env.branch, app_paths(env, apps), env.url, environment=env, apps=apps)


def _preview_plan(session: Session, preview: PreviewWait) -> _Plan:
    return _Plan(_preview_deploy(session), preview.name, preview.branch, [], preview.url, preview=preview)


def _wanted(repo: Any, plan: _Plan, request: WaitRequest, revision: str) -> list[AppToWait]:
    if plan.preview is not None:
        slug = str(plan.preview.variables.get("slug") or plan.preview.name)
        return [AppToWait(slug, plan.preview.tag)]
    labels = dict(request.labels)
    if not labels and not request.revision and plan.environment is not None:
        labels = _tags(repo, plan.environment, plan.apps)
    return [AppToWait(app.name, labels.get(app.name) or revision[:12]) for app in plan.apps]


def _apps(session: Session, env: Environment, names: Sequence[str]) -> list[App]:
    config = session.config
    if names:
        return [config.app(name) for name in dict.fromkeys(names)]
    found = [app for app in config.apps.values() if app.files_for(env.name)]
    if not found:
        raise ConfigError(f"no app has files in environment {env.name}", where=config.source)
    return found


def _tags(repo: Any, env: Environment, apps: Sequence[App]) -> dict[str, str]:
    """The tag each app has at the head of the environment, for progress lines (best effort)."""
    try:
        texts = repo.read_files(env.branch, app_paths(env, apps))
        return {name: found.tag for name, found in read_versions(env, apps, texts).items() if found.tag}
    except PromoterError as exc:
        LOG.debug("tags not read: %s", exc)
        return {}


def _preview_deploy(session: Session) -> DeploySettings:
    deploy = session.config.previews.deploy
    if deploy is None:
        raise ConfigError(
            "previews have no deploy section: promoter does not know how to observe them",
            where=session.config.source,
            hint="add previews.deploy with one of argocd, flux, commit-status, promoter (docs/config.md)",
        )
    return deploy


def _forge(session: Session) -> Any:
    from promoter.forge import make_forge

    return make_forge(session.config.forge, session.environ)
