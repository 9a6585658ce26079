"""The one place that runs ``kubectl``; its stdout may hold Secret data and is never logged.

Every call carries ``--request-timeout`` (``PROMOTER_KUBECTL_REQUEST_TIMEOUT``, default 30 s), so an API
server that accepts a connection and never answers fails the call instead of hanging the reconciler, and
the process itself is killed after a hard deadline as a last resort.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promoter import masking
from promoter.errors import KubectlError, UsageError

LOG = logging.getLogger("promoter.reconcile")
_STDERR_LINES = 6
REQUEST_TIMEOUT_ENV = "PROMOTER_KUBECTL_REQUEST_TIMEOUT"
DEFAULT_REQUEST_TIMEOUT = 30.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_TIMEOUT_MARKS = ("context deadline exceeded", "Client.Timeout exceeded", "i/o timeout")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_timeout(text: str | float, *, what: str = "--request-timeout") -> float:
    """Seconds from ``30``, ``30s``, ``1.5m``, ``500ms`` or ``2h``; zero or less is refused."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise UsageError(f"{what} wants a duration like 30s or 2m, got {text!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"{what} must be positive, got {text!r}")
    return seconds


def default_request_timeout(environ: Mapping[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    value = env.get(REQUEST_TIMEOUT_ENV)
    return parse_timeout(value, what=REQUEST_TIMEOUT_ENV) if value else DEFAULT_REQUEST_TIMEOUT


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    def error_text(self) -> str:
        """The first lines of stderr, masked (kubectl errors name objects, not Secret values)."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return masking.mask("; ".join(lines[:_STDERR_LINES])) or f"exit status {self.returncode}"

    def error_lines(self) -> list[str]:
        """Every ``error:`` / ``Error from server`` line of stderr, masked, in kubectl's order."""
        return [
            masking.mask(line.strip())
            for line in self.stderr.splitlines()
            if line.startswith(("Error from server", "error:", "Error:"))
        ]


class Kubectl:
    def __init__(
        self,
        binary: str = "kubectl",
        *,
        kubeconfig: str | None = None,
        timeout: float = 300.0,
        request_timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.timeout = timeout  # hard deadline of one kubectl process
        self.request_timeout = request_timeout if request_timeout is not None else default_request_timeout()
        self.env = dict(env or {})

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        request_timeout: float | None = None,
    ) -> Outcome:
        """Run ``kubectl ARGS``; ``request_timeout`` overrides the per-request limit (``kubectl wait``)."""
        per_request = request_timeout if request_timeout is not None else self.request_timeout
        command = [self.binary, f"--request-timeout={per_request:g}s", *args]
        if self.kubeconfig:
            command.insert(1, f"--kubeconfig={self.kubeconfig}")
        child_env = {**os.environ, **self.env, **(env or {})}
        LOG.debug("running kubectl %s", " ".join(args[:2]))
        deadline = max(self.timeout, per_request + 30.0)
        try:
            done = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                text=True,
                env=child_env,
                timeout=deadline,
                check=False,
            )
        except FileNotFoundError as exc:
            raise KubectlError(f"{self.binary} not found", hint="install kubectl or put it on PATH") from exc
        except subprocess.TimeoutExpired as exc:
            raise KubectlError(f"kubectl {args[0]} timed out after {deadline:.0f} s") from exc
        stderr = done.stderr
        if done.returncode != 0 and any(mark in stderr for mark in _TIMEOUT_MARKS):
            stderr += (
                f"\nerror: no answer from the API server within {per_request:g} s ({REQUEST_TIMEOUT_ENV})"
            )
        outcome = Outcome(done.returncode, done.stdout, stderr)
        if check and done.returncode != 0:
            raise KubectlError(f"kubectl {args[0]} failed: {outcome.error_text()}")
        return outcome
