"""Report a deployment where developers look: the forge of the app pipeline that asked for it.

* GitHub Actions: a Deployment of the app commit (``GITHUB_SHA``) on the app repository
  (``GITHUB_REPOSITORY``), statuses ``in_progress`` then ``success``/``failure``/``error``
  (:mod:`.github`).
* GitLab CI: a commit status ``promoter/<env>`` on the app commit, attached to the running pipeline, and
  in a merge-request pipeline one note on the merge request, updated in place (:mod:`.gitlab`).

Reporting is on inside CI when a token is available (``PROMOTER_REPORT_TOKEN``, else ``GITHUB_TOKEN`` /
``GITLAB_TOKEN`` / ``PROMOTER_TOKEN``) and off with ``--no-report``. It never changes the exit code: a forge
that refuses (403/404) or fails gets one warning naming the permission that is missing, and that reporter
stays quiet for the rest of the wait.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from promoter import masking
from promoter.ci import CiContext
from promoter.errors import PromoterError
from promoter.observe.model import Outcome

LOG = logging.getLogger("promoter.observe")

REPORT_TOKEN_VAR = "PROMOTER_REPORT_TOKEN"  # noqa: S105 - a variable's name


@dataclass(frozen=True)
class DeployReport:
    """What is being deployed, as the forge should show it."""

    env: str  # the environment's name on the forge: "staging", "preview/pr-7-fix-login"
    apps: tuple[str, ...]
    version: str = ""  # the tag(s) being deployed, for descriptions
    revision: str | None = None  # the env repo commit
    env_url: str | None = None
    transient: bool = False  # previews: GitHub shows them as transient environments

    @property
    def what(self) -> str:
        apps = ", ".join(self.apps)
        return f"{apps} {self.version}".strip() if self.version else apps


class Reporter(Protocol):
    name: str

    def start(self, report: DeployReport) -> None: ...

    def finish(self, report: DeployReport, outcome: Outcome) -> None: ...


class PermissionProblem(Exception):
    """A reporter's forge refused; the message names the missing permission."""


class Reporting:
    """Runs every reporter, turning any failure into one warning; never raises."""

    def __init__(self, reporters: Sequence[Reporter]) -> None:
        self.reporters = list(reporters)
        self.warnings: list[str] = []

    def start(self, report: DeployReport) -> None:
        for reporter in list(self.reporters):
            self._guard(reporter, functools.partial(reporter.start, report))

    def finish(self, report: DeployReport, outcome: Outcome) -> None:
        for reporter in list(self.reporters):
            self._guard(reporter, functools.partial(reporter.finish, report, outcome))

    def _guard(self, reporter: Reporter, call: Callable[[], None]) -> None:
        try:
            call()
        except (PromoterError, PermissionProblem, OSError, ValueError, KeyError) as exc:
            text = masking.mask(str(exc))
            hint = getattr(exc, "hint", None)
            warning = f"{reporter.name}: deployment not reported: {text}" + (f" ({hint})" if hint else "")
            self.warnings.append(warning)
            LOG.warning("%s", warning)
            self.reporters.remove(reporter)


def make_reporting(ci: CiContext, environ: Mapping[str, str], *, enabled: bool = True) -> Reporting:
    """The reporters for this CI system (none outside CI, without a token, or when ``enabled`` is off)."""
    if not enabled or not ci.in_ci or not ci.commit:
        return Reporting([])
    reporter: Reporter | None
    if ci.system == "github":
        from promoter.observe.report.github import github_reporter

        reporter = github_reporter(ci, environ)
    else:
        from promoter.observe.report.gitlab import gitlab_reporter

        reporter = gitlab_reporter(ci, environ)
    if reporter is None:
        LOG.info("deployment not reported to %s: no token (set %s)", ci.system, REPORT_TOKEN_VAR)
        return Reporting([])
    return Reporting([reporter])


def token_from(environ: Mapping[str, str], names: Sequence[str]) -> tuple[str | None, str | None]:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            masking.register_secret(value)
            return value, name
    return None, None


def description(report: DeployReport, outcome: Outcome | None) -> str:
    """One line (<= 140 characters, GitHub's and GitLab's limit) for a status."""
    if outcome is None:
        text = f"deploying {report.what}"
    elif outcome.status == "healthy":
        text = f"{report.what} healthy after {outcome.seconds:.0f} s"
    elif outcome.status == "failed":
        problem = outcome.failed[0].problem() if outcome.failed else ""
        text = f"{report.what} failed: {problem}" if problem else f"{report.what} failed"
    elif outcome.status == "timeout":
        text = f"{report.what}: timed out after {outcome.seconds:.0f} s"
    else:
        text = f"{report.what}: wait cancelled after {outcome.seconds:.0f} s"
    text = masking.mask(" ".join(text.split()))
    return text if len(text) <= 140 else text[:137] + "..."
