"""When to run a transaction again after its push lost a race, and when to stop.

Retries are bounded by time, not by a count: contenders keep trying for ``PROMOTER_RETRY_BUDGET`` seconds
(default 120). Between attempts each waits a random time (full jitter) from a window that starts at the
time one attempt took (under load an attempt is the critical section the contenders must spread over) and
doubles with every race it lost, so the more contention a pipeline meets, the further it backs off.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from promoter.settings import seconds_setting

BUDGET_VARIABLE = "PROMOTER_RETRY_BUDGET"
DEFAULT_BUDGET = 120.0
BACKOFF_BASE = 0.05
# On a large repo under load one attempt takes seconds; the cap leaves room for many contenders to spread
# out (32 pipelines on one branch, BENCHMARKS.md) while keeping several attempts inside the budget.
BACKOFF_CAP = 20.0


def retry_budget(environ: Mapping[str, str] | None = None) -> float:
    """Seconds a transaction keeps retrying lost races (``PROMOTER_RETRY_BUDGET``)."""
    return seconds_setting(BUDGET_VARIABLE, DEFAULT_BUDGET, environ, allow_zero=True)


def backoff(lost: int, attempt_seconds: float = 0.0) -> float:
    """The wait after the ``lost``-th lost race: full jitter over a window that doubles per lost race."""
    base = max(BACKOFF_BASE, min(attempt_seconds, BACKOFF_CAP / 4))
    return random.uniform(0, min(BACKOFF_CAP, base * 2 ** (lost - 1)))
