"""The one place that runs ``kubectl``; its stdout may hold Secret data and is never logged."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promoter import masking
from promoter.errors import KubectlError

LOG = logging.getLogger("promoter.reconcile")
_STDERR_LINES = 6


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    def error_text(self) -> str:
        """The first lines of stderr, masked (kubectl errors name objects, not Secret values)."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return masking.mask("; ".join(lines[:_STDERR_LINES])) or f"exit status {self.returncode}"


class Kubectl:
    def __init__(
        self,
        binary: str = "kubectl",
        *,
        kubeconfig: str | None = None,
        timeout: float = 300.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.env = dict(env or {})

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> Outcome:
        command = [self.binary, *args]
        if self.kubeconfig:
            command.insert(1, f"--kubeconfig={self.kubeconfig}")
        child_env = {**os.environ, **self.env, **(env or {})}
        LOG.debug("running kubectl %s", " ".join(args[:2]))
        try:
            done = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                text=True,
                env=child_env,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise KubectlError(f"{self.binary} not found", hint="install kubectl or put it on PATH") from exc
        except subprocess.TimeoutExpired as exc:
            raise KubectlError(f"kubectl {args[0]} timed out after {self.timeout:.0f} s") from exc
        outcome = Outcome(done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            raise KubectlError(f"kubectl {args[0]} failed: {outcome.error_text()}")
        return outcome
