"""The outcome of a wait as Markdown: the job summary (GitHub) and the merge request note (GitLab).

Messages come from the operator and, through it, from whoever wrote the manifests: they are untrusted.
Every such text is flattened to one line and escaped so it cannot close the table, open HTML or forge the
hidden marker that finds the note again.
"""

from __future__ import annotations

import re

from promoter import masking
from promoter.observe.model import Outcome
from promoter.observe.report import DeployReport

ICONS = {"healthy": "✅", "failed": "❌", "timeout": "⏱️", "interrupted": "⏹️", None: "⏳"}
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def escape(text: object, limit: int = 300) -> str:
    flat = " ".join(masking.mask(str(text or "")).split())
    if len(flat) > limit:
        flat = flat[: limit - 3] + "..."
    return _SPECIAL.sub(r"\\\1", flat)


def marker(env: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_./-]", "_", env)
    return f"<!-- promoter:deploy env={safe} -->"


def outcome_markdown(
    report: DeployReport, outcome: Outcome | None, *, log_url: str | None = None, note: bool = False
) -> str:
    status = outcome.status if outcome is not None else None
    word = status or "in progress"
    lines = [f"### {ICONS[status]} promoter: {escape(report.env)} deploy {word}", ""]
    if outcome is not None and outcome.states:
        lines += [
            "| app | revision | sync | health | status | seconds |",
            "|---|---|---|---|---|---|",
        ]
        for state in outcome.states:
            revision = f"`{escape(state.revision[:12])}`" if state.revision else ""
            lines.append(
                f"| {escape(state.app)} | {revision} | {escape(state.sync)} | {escape(state.health)} "
                f"| {state.phase} | {state.seconds:.0f} |"
            )
        for state in outcome.failed:
            for resource in state.failing or ():
                lines.append(f"- {escape(state.app)}: {escape(resource)}")
            if not state.failing and state.message:
                lines.append(f"- {escape(state.app)}: {escape(state.message)}")
        lines.append("")
    else:
        revision = f" (`{escape(report.revision[:12])}`)" if report.revision else ""
        lines += [f"Deploying {escape(report.what)}{revision}.", ""]
    links = []
    if report.env_url:
        links.append(f"[environment]({_url(report.env_url)})")
    if log_url:
        links.append(f"[job log]({_url(log_url)})")
    if links:
        lines += [" · ".join(links), ""]
    if note:
        lines.append(marker(report.env))
    return "\n".join(lines).rstrip("\n") + "\n"


def _url(url: str) -> str:
    return masking.mask(url).replace(")", "%29").replace(" ", "%20")
