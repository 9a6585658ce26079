"""Printing a delivery (push or approval request) and handing its outputs to the CI system."""

from __future__ import annotations

from typing import Any

from promoter.cli.context import echo, emit, get_globals
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.session import Session


def delivery_text(delivery: Delivery, change_lines: list[str]) -> str:
    out: list[str] = []
    if delivery.result == "dry-run":
        out.append(delivery.diff.rstrip("\n"))
        out.append("")
        out.append("commit message:")
        out.extend(f"    {line}" for line in delivery.message.rstrip("\n").splitlines())
        out.append(f"dry run: nothing pushed to {delivery.branch}")
        return "\n".join(out)
    out.extend(change_lines)
    if delivery.result == "changed":
        raced = f" after {delivery.attempts} attempts" if delivery.attempts > 1 else ""
        out.append(f"pushed {delivery.commit and delivery.commit[:12]} to {delivery.branch}{raced}")
    elif delivery.result == "mr":
        out.append(f"approval request {delivery.request_action}: {delivery.request_url}")
    else:
        out.append(f"unchanged: {delivery.branch} already says so")
    return "\n".join(out)


def summary_markdown(delivery: Delivery, change_lines: list[str]) -> str:
    lines = [f"### promoter: {delivery.result}", ""]
    if delivery.request_url:
        lines.append(f"Approval request: {delivery.request_url}")
    if delivery.commit:
        lines.append(f"Commit `{delivery.commit[:12]}` on `{delivery.branch}`")
    if change_lines:
        lines.append("")
        lines.extend(f"- `{line}`" for line in change_lines)
    return "\n".join(lines) + "\n"


def report_delivery(
    session: Session,
    delivery: Delivery,
    payload: dict[str, Any],
    change_lines: list[str],
    *,
    env_url: str | None = None,
    json_later: bool = False,
) -> None:
    """Print the delivery and write its outputs. ``json_later``: a wait follows, whose JSON object will
    carry ``payload`` (``--output json`` prints one object per command), so print text only."""
    from promoter.ci import standard_outputs, write_outputs

    if json_later:
        if not get_globals().json and get_globals().verbosity >= 0:
            echo(delivery_text(delivery, change_lines))
    else:
        emit(payload, lambda: delivery_text(delivery, change_lines))
    if delivery.result != "dry-run":
        outputs = standard_outputs(
            delivery.result, commit=delivery.commit, mr_url=delivery.request_url, env_url=env_url
        )
        write_outputs(
            outputs, summary_markdown=summary_markdown(delivery, change_lines), environ=session.environ
        )
