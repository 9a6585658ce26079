"""GnuPG in a private home: import the signing key, find its fingerprint, stop the agent afterwards.

``GNUPGHOME`` is a directory inside the key's :class:`~promoter.identity.keydir.PrivateDir`, never
``~/.gnupg``. The key reaches gpg on stdin, the passphrase through a ``passphrase-file`` named in that
home's ``gpg.conf`` (with loopback pinentry: no prompt, ever). The agent protects the imported key with a
small S2K count: the key sits next to its passphrase in a directory that lives for one command, and the
agent's calibrated count costs seconds per signature on a loaded CI runner.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from promoter import masking
from promoter.errors import ConfigError
from promoter.executables import require
from promoter.identity.keydir import PrivateDir
from promoter.identity.keys import KeyText

GPG_TIMEOUT = 60.0
AGENT_S2K_COUNT = 65536  # the smallest count gpg-agent accepts


def prepare_home(directory: PrivateDir, key: KeyText) -> tuple[Path, str]:
    """Import ``key`` into a fresh home in ``directory``; (home, fingerprint of the signing key)."""
    gpg = require("gpg", purpose="sign commits with git.sign: openpgp")
    home = directory.mkdir("gnupg")
    directory.on_remove(lambda: stop_agent(home))
    options = ["batch", "no-tty", "pinentry-mode loopback", "no-greeting", "no-permission-warning"]
    if key.passphrase:
        secret = directory.write("gnupg-passphrase", key.passphrase)
        options.append(f"passphrase-file {secret}")
    directory.write("gnupg/gpg.conf", "\n".join(options) + "\n")
    directory.write("gnupg/gpg-agent.conf", f"allow-loopback-pinentry\ns2k-count {AGENT_S2K_COUNT}\n")
    env = environment(home)
    imported = _run([gpg, "--status-fd", "1", "--import"], env, stdin=key.text)
    if imported.returncode != 0:
        raise _key_error(key, "gpg could not import it", imported.stderr)
    fingerprint = secret_fingerprint(imported.stdout)
    if fingerprint is None:
        raise _key_error(key, "it holds no secret key", imported.stderr)
    return home, fingerprint


def environment(home: Path) -> dict[str, str]:
    return {"GNUPGHOME": str(home)}


def secret_fingerprint(status: str) -> str | None:
    """The fingerprint of the first secret key in ``gpg --status-fd 1 --import`` output (``IMPORT_OK`` with
    the "contains a secret key" bit, 16). gpg picks the signing subkey itself when given it."""
    for line in status.splitlines():
        fields = line.split()
        imported = len(fields) >= 4 and fields[:2] == ["[GNUPG:]", "IMPORT_OK"] and fields[2].isdigit()
        if imported and int(fields[2]) & 16:
            return fields[3]
    return None


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent (and any other daemon) started for ``home``; nothing to do when none ran."""
    if not home.is_dir():
        return
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None:  # pragma: no cover - gpg without gpgconf
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [gpgconf, "--kill", "all"],
            env={**os.environ, **environment(home)},
            capture_output=True,
            timeout=GPG_TIMEOUT,
            check=False,
        )


def _run(
    args: list[str], env: dict[str, str], *, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args,
            input=stdin,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=GPG_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"gpg did not finish within {GPG_TIMEOUT:g} s while reading the signing key",
            where=args[0],
            hint="check that gpg works on this machine (gpg --version)",
        ) from None


def _key_error(key: KeyText, what: str, stderr: str) -> ConfigError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = masking.mask("; ".join(lines[-3:]))
    return ConfigError(
        f"the signing key in {key.variable} does not work: {what}" + (f" ({detail})" if detail else ""),
        where=key.variable,
        hint=f"give {key.variable} the armored secret key (gpg --armor --export-secret-keys KEYID) and, when "
        "it has one, its passphrase in PROMOTER_SIGNING_PASSPHRASE",
    )
