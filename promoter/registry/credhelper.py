"""Docker credential helpers: ``docker-credential-<name> get`` with the server URL on stdin, JSON out.

The helper answers ``{"ServerURL": ..., "Username": ..., "Secret": ...}``; a ``Username`` of ``<token>``
means ``Secret`` is an identity token (a refresh token for the Bearer flow), not a password. A helper
that knows nothing for the server exits non-zero with ``credentials not found in native keychain``: that
is anonymous access, as in Docker.

The secret is registered for masking before anything else is done with it. It never reaches argv (the
server URL goes through stdin), a file, or a message: a failing helper's own words are shown, masked and
cut short, and dropped whole when they hold a ``Secret``. promoter's own tokens are left out of the
helper's environment. A helper that does not answer within the time limit is killed with its children.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from promoter import masking
from promoter.errors import ConfigError, MissingExecutableError, RegistryError
from promoter.settings import seconds_setting

PREFIX = "docker-credential-"
NOT_FOUND = "credentials not found in native keychain"
TOKEN_USERNAME = "<token>"  # noqa: S105 - the marker of an identity token, not a secret
DEFAULT_TIMEOUT = 30.0
TIMEOUT_VARIABLE = "PROMOTER_CREDENTIAL_HELPER_TIMEOUT"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHOWN = 300


@dataclass(frozen=True)
class HelperAnswer:
    username: str
    secret: str

    @property
    def is_identity_token(self) -> bool:
        return self.username == TOKEN_USERNAME


def helper_timeout(environ: Mapping[str, str]) -> float:
    return seconds_setting(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT, environ)


def get_credentials(
    name: str, server_url: str, *, environ: Mapping[str, str], where: str
) -> HelperAnswer | None:
    """Ask ``docker-credential-<name>`` for ``server_url``; None when it has nothing for it."""
    program = f"{PREFIX}{name}"
    if _NAME.fullmatch(name) is None:
        raise ConfigError(f"{name!r} is not a credential helper name", where=where)
    path = shutil.which(program, path=environ.get("PATH", os.defpath))
    if path is None:
        raise MissingExecutableError(
            f"credential helper {program} (for {server_url}) was not found on PATH",
            where=where,
            hint=f"install {program}, or remove it from credHelpers/credsStore of the Docker config",
        )
    timeout = helper_timeout(environ)
    child_env = {key: value for key, value in environ.items() if key not in masking.SECRET_ENV_VARS}
    process = subprocess.Popen(
        [path, "get"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env,
        start_new_session=True,  # on a timeout the whole group is killed, grandchildren too
    )
    try:
        out, err = process.communicate(server_url.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise RegistryError(
            f"credential helper {program} did not answer within {timeout:g} s (for {server_url})",
            where=where,
            hint=f"check what the helper waits for (a login, the network); {TIMEOUT_VARIABLE} sets the limit",
        ) from None
    if process.returncode != 0:
        said = _shown(out) or _shown(err)
        if said == NOT_FOUND:
            return None
        raise RegistryError(
            f"credential helper {program} failed for {server_url}: {said or f'exit {process.returncode}'}",
            where=where,
            hint=f"run `echo {server_url} | {program} get` in the job to see why (a login may have expired)",
        )
    return _parse(out, program, server_url, where)


def _parse(out: bytes, program: str, server_url: str, where: str) -> HelperAnswer:
    try:
        payload = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    secret = payload.get("Secret") if isinstance(payload, dict) else None
    username = payload.get("Username") if isinstance(payload, dict) else None
    if isinstance(secret, str):
        masking.register_secret(secret)
    if not isinstance(secret, str) or not secret or not isinstance(username, str) or not username:
        raise RegistryError(
            f"credential helper {program} answered for {server_url} without Username and Secret",
            where=where,
            hint='the helper must print {"ServerURL": ..., "Username": ..., "Secret": ...}',
        )
    if username != TOKEN_USERNAME:
        masking.register_basic_credentials(username, secret)
    return HelperAnswer(username, secret)


def _shown(raw: bytes) -> str:
    """A failing helper's words, one line, masked, short; nothing when they carry a secret."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "Secret" in payload:
        if isinstance(payload["Secret"], str):
            masking.register_secret(payload["Secret"])
        return ""
    line = " ".join(text.split())
    if len(line) > _SHOWN:
        line = line[: _SHOWN - 3] + "..."
    return masking.mask(line)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
