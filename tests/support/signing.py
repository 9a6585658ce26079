"""Real signing keys for tests, made once per session: SSH (ssh-keygen) and OpenPGP (gpg), and verifiers.

``ssh_key`` and ``ssh_key_with_passphrase`` are ed25519 keys; ``openpgp_key`` is an ed25519 OpenPGP key with
a passphrase. Each :class:`SigningKey` knows its private text, its public half and how to check a commit
of a bare repository with ``git verify-commit``: for SSH an ``allowedSignersFile``, for OpenPGP a GnuPG home
holding only the public key. Every secret carries a recognisable marker for leak checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSH_PASSPHRASE = "ssh-pass-PROMOTERLEAKCHECK-51"
OPENPGP_PASSPHRASE = "gpg-pass-PROMOTERLEAKCHECK-52"
EMAIL = "bot@promoter.example"


@dataclass(frozen=True)
class SigningKey:
    kind: str  # "ssh" | "openpgp"
    private: str  # the text promoter gets in PROMOTER_SIGNING_KEY
    public: str
    passphrase: str | None
    verifier: Path  # allowed-signers file (ssh) or GnuPG home with the public key (openpgp)

    def environment(self) -> dict[str, str]:
        env = {"PROMOTER_SIGNING_KEY": self.private}
        if self.passphrase:
            env["PROMOTER_SIGNING_PASSPHRASE"] = self.passphrase
        return env

    def verify(self, repo: Path, commit: str) -> subprocess.CompletedProcess[str]:
        """``git verify-commit COMMIT`` in ``repo`` with this key as the only trusted one."""
        if self.kind == "ssh":
            args = ["git", "-c", f"gpg.ssh.allowedSignersFile={self.verifier}", "verify-commit", commit]
            env = dict(os.environ)
        else:
            args = ["git", "verify-commit", commit]
            env = dict(os.environ, GNUPGHOME=str(self.verifier))
        return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=False)


def _ssh_key(directory: Path, passphrase: str | None) -> SigningKey:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-C", EMAIL, "-N", passphrase or "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    public = (directory / "id_ed25519.pub").read_text()
    allowed = directory / "allowed_signers"
    allowed.write_text(f"{EMAIL} {public}")
    return SigningKey("ssh", path.read_text(), public, passphrase, allowed)


def _openpgp_key(
    directory: Path, passphrase: str, algorithm: str = "ed25519", usage: str = "sign"
) -> SigningKey:
    home = directory / "gnupg-maker"
    home.mkdir(parents=True, mode=0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    gpg = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", passphrase]
    subprocess.run(
        [*gpg, "--quick-gen-key", f"promoter bot <{EMAIL}>", algorithm, usage, "never"],
        env=env,
        check=True,
        capture_output=True,
    )
    private = subprocess.run(
        [*gpg, "--armor", "--export-secret-keys"], env=env, check=True, capture_output=True, text=True
    ).stdout
    public = subprocess.run(
        ["gpg", "--batch", "--armor", "--export"], env=env, check=True, capture_output=True, text=True
    ).stdout
    subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)
    verifier = directory / "gnupg-verify"
    verifier.mkdir(mode=0o700)
    subprocess.run(
        ["gpg", "--batch", "--quiet", "--import"],
        input=public,
        env=dict(os.environ, GNUPGHOME=str(verifier)),
        check=True,
        capture_output=True,
        text=True,
    )
    return SigningKey("openpgp", private, public, passphrase, verifier)


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return _ssh_key(tmp_path_factory.mktemp("ssh-plain"), None)


@pytest.fixture(scope="session")
def ssh_key_with_passphrase(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return _ssh_key(tmp_path_factory.mktemp("ssh-pass"), SSH_PASSPHRASE)


@pytest.fixture(scope="session")
def openpgp_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKey]:
    key = _openpgp_key(tmp_path_factory.mktemp("openpgp"), OPENPGP_PASSPHRASE)
    yield key
    subprocess.run(
        ["gpgconf", "--kill", "all"],
        env=dict(os.environ, GNUPGHOME=str(key.verifier)),
        check=False,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def openpgp_encryption_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKey]:
    """An OpenPGP secret key that can only certify: gpg imports it, but it cannot sign a commit."""
    key = _openpgp_key(tmp_path_factory.mktemp("openpgp-encr"), OPENPGP_PASSPHRASE, "ed25519", "cert")
    yield key
    subprocess.run(
        ["gpgconf", "--kill", "all"],
        env=dict(os.environ, GNUPGHOME=str(key.verifier)),
        check=False,
        capture_output=True,
    )


def gpg_agents() -> list[str]:
    """Command lines of the gpg-agent processes alive now (zombies excluded)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = (
                Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue
        if "gpg-agent" in cmdline and "\nState:\tZ" not in status:
            found.append(cmdline)
    return found
