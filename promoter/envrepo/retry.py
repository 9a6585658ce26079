"""How long to wait before running a transaction again after its push lost a race."""

from __future__ import annotations

import random

BACKOFF_BASE = 0.05
# The window grows from the time one attempt took; on a large repo under load that is seconds, so the cap
# must leave room for many contenders to spread out (16 pipelines on one branch, BENCHMARKS.md).
BACKOFF_CAP = 20.0
# 16 pipelines pushing to one branch at once on 2 cores needed up to 7 attempts (BENCHMARKS.md).
DEFAULT_ATTEMPTS = 10


def backoff(attempt: int, attempt_seconds: float = 0.0) -> float:
    """Full-jitter exponential backoff.

    The window starts at the larger of ``BACKOFF_BASE`` and the time one attempt took (under load an attempt
    is the critical section the contenders must spread over), doubles per attempt, and is capped.
    """
    base = max(BACKOFF_BASE, min(attempt_seconds, BACKOFF_CAP / 4))
    return random.uniform(0, min(BACKOFF_CAP, base * 2 ** (attempt - 1)))
