"""Key material from the environment: the commit signing key and the GitHub App's private key.

A variable holds the key's text as it is (PEM or armored, with its newlines), or the base64 of that text:
GitLab masks only one-line values, so a key stored as a masked CI/CD variable is base64-encoded. Every form
of the key (text, each line of its body, the variable's raw value) and the passphrase are registered with
:mod:`promoter.masking` as soon as they are read. The text is checked for the kind of key it holds, so a
public key, or a key of the other kind, is refused with exit 2 before anything is cloned.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Mapping
from dataclasses import dataclass, field

from promoter import masking
from promoter.errors import ConfigError

SIGNING_KEY = "PROMOTER_SIGNING_KEY"
SIGNING_PASSPHRASE = "PROMOTER_SIGNING_PASSPHRASE"  # noqa: S105 - a variable's name
APP_KEY = "PROMOTER_GITHUB_APP_KEY"

_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
# the PEM/armor labels each kind of key may carry
_LABELS = {
    "ssh": ("OPENSSH PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "PRIVATE KEY"),
    "openpgp": ("PGP PRIVATE KEY BLOCK",),
    "app": ("RSA PRIVATE KEY", "PRIVATE KEY"),
}
_SSH_PUBLIC = re.compile(r"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) AAAA")
_PUBLIC = ("PUBLIC KEY", "PGP PUBLIC KEY BLOCK", "SSH2 PUBLIC KEY", "CERTIFICATE")
_NAMES = {"ssh": "an SSH private key", "openpgp": "an OpenPGP secret key", "app": "a PEM private key"}


@dataclass(frozen=True)
class KeyText:
    """A private key read from ``variable``: its text (newline-terminated), and the passphrase if any."""

    variable: str
    kind: str  # "ssh" | "openpgp" | "app"
    text: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)


def has_key(environ: Mapping[str, str], variable: str) -> bool:
    return bool(environ.get(variable, "").strip())


def read_key(
    environ: Mapping[str, str], variable: str, kind: str, *, needed_by: str, passphrase: str | None = None
) -> KeyText:
    """The key of ``kind`` in ``variable``; :class:`ConfigError` (exit 2) when absent or of another kind.

    ``needed_by`` names the setting that asks for the key (``git.sign: ssh``), for the messages.
    """
    raw = environ.get(variable, "")
    masking.register_secret(raw.strip())
    if passphrase is not None:
        secret = environ.get(passphrase) or None
        masking.register_secret(secret)
    else:
        secret = None
    if not raw.strip():
        raise ConfigError(
            f"{needed_by} needs a private key in {variable}, which is not set",
            where=variable,
            hint=f"set {variable} to {_NAMES[kind]} (its text, or the base64 of it), e.g. from a masked "
            "CI/CD variable or secret",
        )
    text = _decode(raw)
    _register(text)
    label = _label(text)
    if label is None and _SSH_PUBLIC.match(text):
        label = "SSH PUBLIC KEY"
    if label is None:
        raise ConfigError(
            f"{variable} holds no key that promoter can read",
            where=variable,
            hint=f"{needed_by} needs {_NAMES[kind]}: its text with the -----BEGIN ...----- line, or the "
            "base64 of that text",
        )
    if any(label.endswith(public) for public in _PUBLIC):
        raise ConfigError(
            f"{variable} holds a public key ({label})",
            where=variable,
            hint=f"{needed_by} needs the private key; the public key is what the forge and verifiers get",
        )
    if label not in _LABELS[kind]:
        other = next((name for name, labels in _LABELS.items() if label in labels and name != kind), None)
        hint = f"{needed_by} needs {_NAMES[kind]}"
        if other in ("ssh", "openpgp") and kind in ("ssh", "openpgp"):
            hint += f"; for this key set git.sign: {other}"
        if "ENCRYPTED" in label:
            hint += " (unencrypted: promoter has no passphrase for it)"
        raise ConfigError(f"{variable} holds {label}, not {_NAMES[kind]}", where=variable, hint=hint)
    return KeyText(variable, kind, text, secret)


def _decode(raw: str) -> str:
    """The key text: as given, or decoded from base64; CRLF and escaped newlines become newlines."""
    text = raw.strip()
    if "-----BEGIN" not in text:
        try:
            decoded = b64decode("".join(text.split()), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded = ""
        if "-----BEGIN" in decoded:
            text = decoded.strip()
    if "\n" not in text and "\\n" in text:  # a key pasted into a one-line variable with \n escapes
        text = text.replace("\\n", "\n")
    return text.replace("\r\n", "\n").replace("\r", "\n").strip() + "\n"


def _label(text: str) -> str | None:
    found = _BEGIN.search(text)
    return found.group(1).strip() if found else None


def _register(text: str) -> None:
    """Mask the key's text and every line of its body (a message that quotes part of it shows ``***``)."""
    masking.register_secret(text)
    masking.register_secret(text.strip())
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if len(line) >= 16 and not line.startswith("-----") and ":" not in line:
            masking.register_secret(line)
