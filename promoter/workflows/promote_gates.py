"""The gates of a promotion path (``promotion[].checks`` and ``promotion[].soak``), decided before the
promotion's transaction: required checks on the source's commit close the whole promotion; the soak
closes single apps, and only those whose version in the target differs (nothing to soak otherwise).
Freeze windows and holds are decided by :func:`~promoter.workflows.promote.promote` (holds inside the
transaction, against the target's newest head).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from promoter.config import App, Environment, Promotion
from promoter.envrepo import EnvRepo
from promoter.errors import ConfigError
from promoter.gates.checks import read_checks, unmet_checks
from promoter.gates.soaking import soak_verdicts
from promoter.gates.verdict import Block, Gatekeeper, checks_block, soak_block
from promoter.workflows.approval import forge_for
from promoter.workflows.deployed import Version, app_paths, read_versions
from promoter.workflows.session import Session


def enforce_checks(
    session: Session, repo: EnvRepo, rule: Promotion, source: Environment, gates: Gatekeeper
) -> None:
    """Refuse (exit 4) unless every required check succeeded on the source branch's head."""
    if not rule.checks:
        return
    forge = forge_for(session)
    if forge.kind == "none":
        raise ConfigError(
            f"promotion {rule.source} -> {rule.target} requires checks, but there is no forge to ask",
            where=f"{session.config.source}: promotion",
            hint="set forge: {type: gitlab|github, ...}, or remove checks from the promotion path",
        )
    head = repo.head(source.branch)
    if head is None:
        return  # read_files has already said the branch is missing
    unmet = unmet_checks(rule.checks, read_checks(forge, head))
    gates.enforce([checks_block(source, head, unmet)], where=f"{source.branch}@{head[:12]}")


def soak_blocks(
    session: Session,
    repo: EnvRepo,
    rule: Promotion,
    source: Environment,
    target: Environment,
    apps: Sequence[App],
    versions: Mapping[str, Version],
    now: datetime,
) -> dict[str, Block]:
    """The apps that have not soaked long enough in the source (only those the target does not run yet)."""
    if rule.soak_seconds <= 0 or not apps:
        return {}
    texts = repo.read_files(target.branch, app_paths(target, apps))
    running = read_versions(target, apps, texts)
    differing = {
        app.name: str(versions[app.name])
        for app in apps
        if set(running[app.name].versions) != {versions[app.name]}
    }
    if not differing:
        return {}
    forge = None
    if source.deploy is not None and source.deploy.commit_status is not None:
        forge = forge_for(session)
    verdicts = soak_verdicts(repo, source, apps, differing, rule.soak_seconds, now, forge=forge)
    out: dict[str, Block] = {}
    for name, verdict in verdicts.items():
        block = soak_block(verdict)
        if block is not None:
            out[name] = block
    return out
