"""``promoter wait ENV`` and the ``--wait`` half of bump, promote and preview up.

Progress lines go to stderr while waiting (:mod:`promoter.observe.narrate`); the result goes to stdout
(text, or one JSON object), the CI outputs ``PROMOTER_DEPLOY_STATUS``, ``PROMOTER_DEPLOY_REVISION`` and
``PROMOTER_DEPLOY_SECONDS`` and the job summary are written, then "failed" is exit 6 and "timeout" exit 7.
SIGTERM or SIGINT (a cancelled pipeline) stops the wait and prints the last state seen (exit 1).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from promoter.cli.context import echo, emit, get_globals, open_cli_session

if TYPE_CHECKING:
    from promoter.workflows.session import Session
    from promoter.workflows.wait import WaitRequest, WaitResult

    # click 8.5 made ParamType generic (the value it gives, the value it takes); older releases, which
    # promoter supports, cannot be subscripted at run time.
    _OptionalSeconds = click.ParamType[int | None, Any]
else:
    _OptionalSeconds = click.ParamType


class Duration(_OptionalSeconds):
    """``90``, ``90s``, ``10m``, ``1h30m``: seconds. An empty value means "not given" (CI templates pass
    their input through whether it is set or not)."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        if value is None or isinstance(value, int):
            return value
        from promoter.config import parse_duration

        text = str(value).strip()
        if not text:
            return None
        try:
            return parse_duration(int(text) if text.isdigit() else text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def wait_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--wait[=true|false]``, ``--wait-timeout`` and ``--no-report`` for the commands that push.

    ``--wait`` alone means true; the ``=false`` form lets a CI template pass a boolean input through.
    """
    func = click.option(
        "--no-report", is_flag=True, help="Do not report the deployment to the app pipeline's forge."
    )(func)
    func = click.option(
        "--wait-timeout",
        type=Duration(),
        help="Give up waiting after DURATION (default: deploy.timeout of the environment). Implies --wait.",
    )(func)
    return click.option(
        "--wait",
        "wait",
        type=click.BOOL,
        is_flag=False,
        flag_value=True,
        default=False,
        metavar="[=true|false]",
        help="After pushing, wait until the deployment is healthy (exit 6 failed, 7 timed out).",
    )(func)


@click.command("wait")
@click.argument("env")
@click.option("--app", "apps", multiple=True, help="Only this app (repeatable); default: every app in ENV.")
@click.option(
    "--revision", metavar="SHA", help="Wait for this env commit (default: the head of ENV's branch)."
)
@click.option("--timeout", type=Duration(), help="Give up after DURATION (default: deploy.timeout).")
@click.option("--no-report", is_flag=True, help="Do not report the deployment to the app pipeline's forge.")
def wait(env: str, apps: tuple[str, ...], revision: str | None, timeout: int | None, no_report: bool) -> None:
    """Wait until ENV's head (or SHA) is deployed and healthy, through the environment's deploy source."""
    from promoter.workflows.wait import WaitRequest

    session = open_cli_session()
    request = WaitRequest(
        env=env, apps=apps, revision=revision, timeout_seconds=timeout, report=not no_report
    )
    result = run_wait(session, request)
    finish_wait(session, result, {})


def run_wait(session: Session, request: WaitRequest) -> WaitResult:
    from promoter.workflows.wait import wait_for_deploy

    with stop_on_signals() as stop:
        return wait_for_deploy(session, request, stop=stop)


def finish_wait(session: Session, result: WaitResult, payload: dict[str, Any]) -> None:
    """Print the result, hand its outputs to the CI system, and raise exit 6/7/1 unless it is healthy."""
    from promoter.ci import DEPLOY_OUTPUT_KEYS, write_outputs
    from promoter.errors import (
        DeploymentFailedError,
        DeploymentTimeoutError,
        PromoterError,
        WaitInterruptedError,
    )
    from promoter.observe.report import DeployReport
    from promoter.observe.report.markdown import outcome_markdown

    outcome = result.outcome
    values = (outcome.status, outcome.revision or "", str(round(outcome.seconds)))
    outputs = dict(zip(DEPLOY_OUTPUT_KEYS, values, strict=True))
    report = DeployReport(
        env=result.env,
        apps=tuple(s.app for s in outcome.states),
        revision=outcome.revision,
        env_url=result.env_url,
    )
    log_url = session.ci.job_url or session.ci.pipeline_url
    write_outputs(
        outputs, summary_markdown=outcome_markdown(report, outcome, log_url=log_url), environ=session.environ
    )
    combined = {**payload, "wait": result.as_dict()}
    if outcome.status == "healthy":
        emit(combined, lambda: _healthy_text(result))
        return
    if outcome.status == "interrupted":
        for state in outcome.states:
            echo(f"last seen: {_state_line(state)}", err=True)
    error: PromoterError
    if outcome.status == "failed":
        problem = "; ".join(f"{s.name}: {s.problem() or s.word}" for s in outcome.failed)
        error = DeploymentFailedError(
            f"the deployment to {result.env} failed: {problem}",
            hint="the operator's own view (Argo CD UI, flux events, kubectl describe) has the details",
        )
    elif outcome.status == "timeout":
        waiting = "; ".join(_state_line(s) for s in outcome.waiting) or "nothing"
        error = DeploymentTimeoutError(
            f"timed out after {outcome.seconds:.0f} s waiting for {result.env}: {waiting}",
            hint="raise deploy.timeout or --wait-timeout, or check that the operator picks the commit up",
        )
    else:
        error = WaitInterruptedError(f"the wait for {result.env} was stopped after {outcome.seconds:.0f} s")
    error.details = combined
    raise error


def _healthy_text(result: WaitResult) -> str:
    outcome = result.outcome
    revision = (outcome.revision or "")[:12]
    apps = ", ".join(state.app for state in outcome.states)
    text = f"{result.env}: {apps} healthy at {revision} after {outcome.seconds:.0f} s"
    if result.env_url:
        text += f"\n{result.env_url}"
    return text


def _state_line(state: Any) -> str:
    revision = f" at {state.revision[:12]}" if state.revision else ""
    detail = f": {state.problem()}" if state.problem() else ""
    return f"{state.name}: {state.word}{revision}, {state.seconds:.0f} s{detail}"


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM/SIGINT while the block runs (main thread only); handlers restored after."""
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        echo(f"promoter: {signal.Signals(signum).name} received: stopping the wait", err=True)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, handler)
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def wants_wait(wait: bool, wait_timeout: int | None) -> bool:
    return wait or wait_timeout is not None


def json_mode() -> bool:
    return get_globals().json


def wait_after_delivery(
    session: Session,
    delivery: Any,
    payload: dict[str, Any],
    change_lines: list[str],
    *,
    env_url: str | None,
    request: WaitRequest,
) -> None:
    """bump/promote ``--wait``: print the delivery, then wait for a pushed change (not for a request)."""
    from dataclasses import replace

    from promoter.cli.report import report_delivery

    report_delivery(session, delivery, payload, change_lines, env_url=env_url, json_later=True)
    if delivery.result == "mr":
        note = "the approval request is not merged yet, so there is no deployment to wait for"
        emit({**payload, "wait": {"status": "skipped", "reason": note}}, None)
        if not json_mode():
            echo(f"promoter: {note}", err=True)
        return
    revision = delivery.commit if delivery.result == "changed" else None
    result = run_wait(session, replace(request, revision=revision))
    finish_wait(session, result, payload)
