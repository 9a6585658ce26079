"""Signed commits: ``git commit -S`` with an SSH or OpenPGP key from ``PROMOTER_SIGNING_KEY``.

:class:`Signer` prepares the key on the first commit, in a :class:`~promoter.identity.keydir.PrivateDir`:

* SSH: the key file (0600) and an ``SSH_ASKPASS`` helper that prints the passphrase file (or fails, so
  ``ssh-keygen`` never prompts); git runs ``ssh-keygen -Y sign`` with ``gpg.format=ssh``;
* OpenPGP: a private ``GNUPGHOME`` the key is imported into (:mod:`promoter.identity.gnupg`).

git receives the options on its command line as ``-c`` settings naming only paths and a fingerprint, never
key material, and nothing is written to ``.git/config`` or HOME. :class:`SigningCommitter` makes every
commit with them and refuses (exit 2) when git could not sign or the commit came out without a signature:
nothing unsigned is ever pushed.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from promoter import masking
from promoter.envrepo import GitCommitter, StagedChange, WorkClone
from promoter.errors import ConfigError
from promoter.executables import require
from promoter.identity import gnupg
from promoter.identity.keydir import PrivateDir
from promoter.identity.keys import SIGNING_PASSPHRASE, KeyText

_SIGNATURE_HEADERS = ("gpgsig ", "gpgsig-sha256 ")


@dataclass(frozen=True)
class SigningSetup:
    """What ``git commit -S`` needs: ``-c`` options and environment variables (no key material)."""

    options: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)


class Signer:
    """One signing key, prepared on first use and removed by :meth:`close`."""

    def __init__(self, key: KeyText) -> None:
        self.key = key
        self._directory: PrivateDir | None = None
        self._setup: SigningSetup | None = None

    def setup(self) -> SigningSetup:
        if self._setup is None:
            directory = PrivateDir()
            try:
                self._setup = (
                    _ssh(directory, self.key) if self.key.kind == "ssh" else _openpgp(directory, self.key)
                )
            except BaseException:
                directory.remove()
                raise
            self._directory = directory
        return self._setup

    @property
    def directory(self) -> PrivateDir | None:
        return self._directory

    def close(self) -> None:
        if self._directory is not None:
            self._directory.remove()
        self._directory, self._setup = None, None


def _ssh(directory: PrivateDir, key: KeyText) -> SigningSetup:
    program = require("ssh-keygen", purpose="sign commits with git.sign: ssh")
    path = directory.write("signing-key", key.text)
    if key.passphrase:
        secret = directory.write("passphrase", key.passphrase)
        script = f"#!/bin/sh\nexec cat {shlex.quote(str(secret))}\n"
    else:
        script = "#!/bin/sh\nexit 1\n"  # an encrypted key without a passphrase fails instead of prompting
    askpass = directory.write("askpass", script, mode=0o700)
    return SigningSetup(
        ("-c", "gpg.format=ssh", "-c", f"gpg.ssh.program={program}", "-c", f"user.signingKey={path}"),
        {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"},
    )


def _openpgp(directory: PrivateDir, key: KeyText) -> SigningSetup:
    _home, fingerprint = gnupg.prepare_home(directory, key)
    program = require("gpg", purpose="sign commits with git.sign: openpgp")
    return SigningSetup(
        ("-c", "gpg.format=openpgp", "-c", f"gpg.program={program}", "-c", f"user.signingKey={fingerprint}"),
        gnupg.environment(_home),
    )


class SigningCommitter(GitCommitter):
    """``git commit -S`` with the :class:`Signer`'s key; a commit without a signature is refused."""

    def __init__(self, clone: WorkClone, author: str | None, signer: Signer) -> None:
        super().__init__(clone, author)
        self.signer = signer

    def commit(self, staged: StagedChange, message: str, trailers: Mapping[str, str] | None = None) -> str:
        sha = super().commit(staged, message, trailers)
        raw = self.clone.git("cat-file", "commit", sha)
        headers = raw.split("\n\n", 1)[0].splitlines()
        if not any(line.startswith(_SIGNATURE_HEADERS) for line in headers):
            raise ConfigError(
                f"the commit was made without a signature although git.sign is {self.signer.key.kind}",
                where=self.signer.key.variable,
                hint="nothing was pushed; check that git (2.34 or newer for SSH) can sign on this machine",
            )
        return sha

    def run_commit(self, *args: str) -> None:
        setup = self.signer.setup()
        status, out, err = self.clone.run(
            *setup.options,
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=whitespace",
            "--gpg-sign",
            *args,
            env={**self.identity(), **setup.environment},
        )
        if status == 0:
            return
        text = err or out
        if "sign" not in text.lower():
            raise self.clone.error("commit", text)
        raise signing_error(self.signer.key, text)

    def close(self) -> None:
        self.signer.close()


def signing_error(key: KeyText, stderr: str) -> ConfigError:
    """git could not sign: say why (masked), and that nothing was pushed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = masking.mask("; ".join(lines[-3:]))
    passphrase = "" if key.passphrase else f" (and {SIGNING_PASSPHRASE} if the key has a passphrase)"
    return ConfigError(
        f"cannot sign the commit with the key in {key.variable}: {detail}",
        where=key.variable,
        hint=f"nothing was pushed; check the key in {key.variable}{passphrase}",
    )
