"""Keep secrets out of every text promoter prints or logs.

Secrets are registered once (from the environment variables promoter reads tokens from, and by any
code that obtains a credential) and masked in log records, error messages and command output. URLs are
masked by shape as well, whether or not their secret was registered: the user information of an
``http(s)://user:password@host`` URL and the values of secret-looking query parameters (``private_token``,
``access_token``, ``token``, ``X-Amz-Signature``, ...) become ``***`` wherever :func:`mask` runs.
"""

from __future__ import annotations

import logging
import os
import re
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
    "ARGOCD_AUTH_TOKEN",
    "PROMOTER_REPORT_TOKEN",
    "PROMOTER_SIGNING_KEY",
    "PROMOTER_SIGNING_PASSPHRASE",
    "PROMOTER_GITHUB_APP_KEY",
)
_MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()

# scheme://userinfo@ : every userinfo of a web URL, and any userinfo holding a password elsewhere
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*)://([^/?#\s@\"'<>]+)@")
_WEB_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "ws", "wss"})
# ?name=value / &name=value where the name looks like a credential
SECRET_QUERY_NAMES = re.compile(
    r"(?:[a-z0-9_.-]*(?:token|secret|password|passwd|pwd|signature|credential|api[_-]?key|apikey|session)"
    r"[a-z0-9_.-]*|key|sig|auth|code|jwt|x-amz-[a-z0-9-]+|x-goog-[a-z0-9-]+)",
    re.IGNORECASE,
)
_URL_QUERY_PARAM = re.compile(r"([?&;])([A-Za-z0-9_.-]+)=([^&#;\s\"'<>]*)")


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
    """``text`` with every registered secret and every credential part of a URL replaced by ``***``."""
    if not text:
        return text
    if _secrets:
        with _lock:
            secrets = sorted(_secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
    return mask_url_credentials(text)


def mask_url_credentials(text: str) -> str:
    """Mask the user information of web URLs (and passwords in others) and secret-looking query values."""
    if "://" in text:
        text = _URL_USERINFO.sub(_masked_userinfo, text)
    if "=" in text and ("?" in text or "&" in text or ";" in text):
        text = _URL_QUERY_PARAM.sub(_masked_parameter, text)
    return text


def is_secret_parameter(name: str) -> bool:
    """True when a URL query parameter of this name probably carries a credential."""
    return SECRET_QUERY_NAMES.fullmatch(name) is not None


def _masked_userinfo(found: re.Match[str]) -> str:
    scheme, userinfo = found.group(1), found.group(2)
    if scheme.lower() in _WEB_SCHEMES or ":" in userinfo:
        return f"{scheme}://{MASK}@"
    return found.group(0)


def _masked_parameter(found: re.Match[str]) -> str:
    separator, name, value = found.groups()
    if value and value != MASK and is_secret_parameter(name):
        return f"{separator}{name}={MASK}"
    return found.group(0)


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
