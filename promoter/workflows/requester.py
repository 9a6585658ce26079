"""Who asked for a change, for hold files, commit trailers and request bodies.

In CI: the CI user and the pipeline (``alice (https://gitlab.example.com/acme/api/-/pipelines/812)``);
locally: git's user name, else the login name. Every part is untrusted text, kept on one line.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping

from promoter.ci import CiContext
from promoter.gates import record
from promoter.gates.holds import one_line

__all__ = ["actor_trailer", "requested_by", "run_trailers"]


def requested_by(ci: CiContext, environ: Mapping[str, str] | None = None) -> str:
    """A short "who (where)" for the person or pipeline asking."""
    env = os.environ if environ is None else environ
    who = ci.actor or env.get("GIT_AUTHOR_NAME") or _login()
    where = ci.pipeline_url or (f"pipeline {ci.pipeline_id}" if ci.pipeline_id is not None else None)
    return one_line(f"{who} ({where})" if where else who)


def actor_trailer(ci: CiContext, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``Promoter-Actor``: the CI user, else the local git user or login (commits are authored by
    ``git.author``, which does not say who ran promoter)."""
    env = os.environ if environ is None else environ
    who = one_line(ci.actor or env.get("GIT_AUTHOR_NAME") or _login())
    return {record.ACTOR: who} if who else {}


def run_trailers(ci: CiContext, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``Promoter-Actor``, and ``Promoter-Run`` when CI says which pipeline (informative only: the
    downgrade guard compares ``Promoter-Pipeline``, which only builds record)."""
    out = actor_trailer(ci, environ)
    run = ci.pipeline_url or (str(ci.pipeline_id) if ci.pipeline_id is not None else None)
    if run:
        out[record.RUN] = one_line(run)
    return out


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return "unknown"
