"""Keep secrets out of every text promoter prints or logs.

Secrets are registered once (from the environment variables promoter reads tokens from, and by any
code that obtains a credential) and masked in log records, error messages and command output.
"""

from __future__ import annotations

import logging
import os
import threading
from base64 import b64encode

MASK = "***"
SECRET_ENV_VARS = (
    "PROMOTER_TOKEN",
    "GITLAB_TOKEN",
    "GITHUB_TOKEN",
    "CI_JOB_TOKEN",
    "PROMOTER_REGISTRY_PASSWORD",
    "CI_REGISTRY_PASSWORD",
    "PROMOTER_WEBHOOK_SECRET",
    "GH_TOKEN",
)
_MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask ``value`` (and its Basic-auth and URL-encoded forms) from now on."""
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    from urllib.parse import quote

    with _lock:
        _secrets.add(value)
        _secrets.add(quote(value, safe=""))
        _secrets.add(b64encode(value.encode()).decode().rstrip("="))


def register_basic_credentials(user: str, password: str) -> None:
    register_secret(password)
    register_secret(b64encode(f"{user}:{password}".encode()).decode())


def register_environment_secrets(environ: dict[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    for name in SECRET_ENV_VARS:
        register_secret(env.get(name))


def mask(text: str) -> str:
    if not _secrets or not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def clear() -> None:
    """Forget every registered secret (tests)."""
    with _lock:
        _secrets.clear()


class MaskingFilter(logging.Filter):
    """Rewrites each record's final message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
