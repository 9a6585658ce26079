"""Numbers promoter takes from environment variables (time limits, budgets, concurrency).

One parser and one wording for all of them: an empty or unset variable means the default, anything that is
not a number in range is a configuration error (exit 2) naming the variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from promoter.errors import ConfigError


def seconds_setting(
    variable: str, default: float, environ: Mapping[str, str] | None = None, *, allow_zero: bool = False
) -> float:
    """Seconds from ``variable``: a finite number greater than 0 (or 0 too, with ``allow_zero``)."""
    text = _text(variable, environ)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "greater than 0"
        raise ConfigError(f"{variable} must be a number of seconds {bound}, not {text!r}", where=variable)
    return value


def count_setting(variable: str, default: int | None, environ: Mapping[str, str] | None = None) -> int | None:
    """A whole number of at least 1 from ``variable``."""
    text = _text(variable, environ)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{variable} must be a whole number of at least 1, not {text!r}", where=variable)
    return int(text)


def _text(variable: str, environ: Mapping[str, str] | None) -> str:
    env = os.environ if environ is None else environ
    return (env.get(variable) or "").strip()
