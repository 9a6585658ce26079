"""One exception hierarchy; every class carries the process exit code it maps to.

| code | meaning |
|------|---------|
| 0 | done, including "unchanged" |
| 1 | operational failure: git, network, forge API, registry, kubectl |
| 2 | usage or configuration error |
| 3 | bad input: unparsable YAML, key not found, invalid image reference, template error, unsafe target |
| 4 | refused by a safety guard: downgrade, approval required, image missing, GC or prune guard, a gate |
| 5 | gave up after concurrent-update retries |
| 6 | the deployment failed (degraded, sync or apply failed), seen while waiting |
| 7 | timed out waiting for the deployment |
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_OPERATIONAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_REFUSED = 4
EXIT_CONCURRENCY = 5
EXIT_DEPLOY_FAILED = 6
EXIT_DEPLOY_TIMEOUT = 7

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done, including 'unchanged'",
    EXIT_OPERATIONAL: "operational failure: git, network, forge API, registry, kubectl",
    EXIT_USAGE: "usage or configuration error",
    EXIT_INPUT: "bad input: YAML that does not parse, key not found, invalid image reference, "
    "template error, unsafe target",
    EXIT_REFUSED: "refused by a safety guard: downgrade, approval required, image missing in registry, "
    "GC or prune guard, a gate (freeze window, hold, soak, required checks)",
    EXIT_CONCURRENCY: "gave up after concurrent-update retries",
    EXIT_DEPLOY_FAILED: "the deployment failed (degraded, sync or apply failed), seen while waiting",
    EXIT_DEPLOY_TIMEOUT: "timed out waiting for the deployment",
}


def one_line(text: str) -> str:
    """``text`` on one line: a hint is always one line, whatever went into it (its lines joined by "; ")."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


class PromoterError(Exception):
    """Base of every error promoter reports to its user.

    ``where`` names the place (``file:line:col``, a URL, a ref) and ``hint`` says what to do next.
    """

    exit_code = EXIT_OPERATIONAL
    #: structured facts for ``--output json`` (e.g. every app's state when a deployment failed)
    details: dict[str, object] | None = None

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = one_line(hint) if hint else hint

    def __str__(self) -> str:
        return f"{self.message} ({self.where})" if self.where else self.message

    @property
    def kind(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "type": self.kind,
            "message": self.message,
            "where": self.where,
            "hint": self.hint,
            "exit_code": self.exit_code,
        }
        if self.details is not None:
            data["details"] = self.details
        return data


# exit 1 ------------------------------------------------------------------------------------------
class OperationalError(PromoterError):
    exit_code = EXIT_OPERATIONAL


class GitError(OperationalError):
    pass


class NetworkError(OperationalError):
    pass


class ForgeError(OperationalError):
    pass


class RegistryError(OperationalError):
    pass


class KubectlError(OperationalError):
    pass


class MissingExecutableError(OperationalError):
    """A program promoter runs (git, kubectl, helm) is not installed or not on PATH."""


class InternalError(OperationalError):
    """Something promoter did not foresee; reported like any other error (the traceback with ``-v``)."""


def unexpected_error(exc: BaseException) -> PromoterError:
    """A :class:`PromoterError` for an exception that escaped promoter's own handling (cause kept)."""
    error: PromoterError
    text = str(exc)
    if isinstance(exc, FileNotFoundError) and exc.filename and "/" not in str(exc.filename):
        name = str(exc.filename)
        hint = f"install {name} or put it on PATH"
        error = MissingExecutableError(f"{name} is needed but was not found on PATH", where=name, hint=hint)
    elif isinstance(exc, ImportError) and "git executable" in text:
        error = MissingExecutableError(
            "git is needed but was not found on PATH", where="git", hint="install git or put it on PATH"
        )
    else:
        first = text.strip().splitlines()[0] if text.strip() else ""
        error = InternalError(
            f"unexpected {type(exc).__name__}{': ' + first if first else ''}",
            hint="run again with -v for the traceback, and report it at "
            "https://github.com/promoter-dev/promoter/issues",
        )
    error.__cause__ = exc
    return error


class WaitInterruptedError(OperationalError):
    """A wait for a deployment was stopped (SIGTERM/SIGINT, e.g. a cancelled pipeline)."""


# exit 2 ------------------------------------------------------------------------------------------
class UsageError(PromoterError):
    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    pass


# exit 3 ------------------------------------------------------------------------------------------
class InputError(PromoterError):
    exit_code = EXIT_INPUT


class YamlSyntaxError(InputError):
    pass


class KeyNotFoundError(InputError):
    #: how many parts of the key path were found before the miss, when known
    depth: int | None = None


class KeySyntaxError(InputError):
    pass


class ImageReferenceError(InputError):
    pass


class ImageNotFoundInFileError(InputError):
    pass


class TemplateError(InputError):
    pass


class UnsafeTargetError(InputError):
    """The target exists but cannot be edited without reformatting (alias, block scalar, ...)."""


# exit 4 ------------------------------------------------------------------------------------------
class RefusedError(PromoterError):
    exit_code = EXIT_REFUSED


class DowngradeRefusedError(RefusedError):
    pass


class ApprovalRequiredError(RefusedError):
    pass


class ImageMissingError(RefusedError):
    pass


class GuardRefusedError(RefusedError):
    pass


class GateRefusedError(RefusedError):
    """A gate stopped the change: a freeze window, a hold, the soak time or a required check."""


# exit 5 ------------------------------------------------------------------------------------------
class ConcurrencyError(PromoterError):
    """Gave up after ``attempts`` attempts: the branch kept moving."""

    exit_code = EXIT_CONCURRENCY

    def __init__(
        self, message: str, *, where: str | None = None, hint: str | None = None, attempts: int | None = None
    ) -> None:
        super().__init__(message, where=where, hint=hint)
        self.attempts = attempts

    def as_dict(self) -> dict[str, object]:
        data = super().as_dict()
        if self.attempts is not None:
            data["attempts"] = self.attempts
        return data


# exit 6 ------------------------------------------------------------------------------------------
class DeploymentFailedError(PromoterError):
    exit_code = EXIT_DEPLOY_FAILED


# exit 7 ------------------------------------------------------------------------------------------
class DeploymentTimeoutError(PromoterError):
    exit_code = EXIT_DEPLOY_TIMEOUT
