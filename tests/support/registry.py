"""A real OCI registry for tests: Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1.

Fixtures: ``registry_server`` (anonymous) and ``auth_registry_server`` (htpasswd Basic auth), both
session-scoped; each yields a :class:`RegistryServer`. ``push_image`` uploads a config blob and an OCI
manifest through the registry API and returns the manifest digest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import requests

REGISTRY_BINARY = "docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_START_DEADLINE = 15.0
_START_ATTEMPTS = 5
_IDENTITY_HEADER = "X-Promoter-Test-Registry"


@dataclass(frozen=True)
class RegistryServer:
    host: str  # "127.0.0.1:PORT", the registry part of image references
    base_url: str  # "http://127.0.0.1:PORT"
    auth: tuple[str, str] | None = None  # (user, password) when htpasswd auth is on
    log: Path | None = None  # the registry's output: one access line per request when access_log=True

    def ref(self, repository: str, tag: str | None = None) -> str:
        return f"{self.host}/{repository}" + (f":{tag}" if tag else "")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: the registry gets SIGTERM if the test process dies without tearing down."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _write_config(
    directory: Path, port: int, htpasswd: Path | None, access_log: bool = False, identity: str = ""
) -> Path:
    auth = f"auth:\n  htpasswd:\n    realm: promoter-tests\n    path: {htpasswd}\n" if htpasswd else ""
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"log:\n  level: error\n  accesslog:\n    disabled: {'false' if access_log else 'true'}\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"  headers:\n    {_IDENTITY_HEADER}: [{identity}]\n" + auth
    )
    return config


def _htpasswd_line(user: str, password: str) -> str:
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"


@contextlib.contextmanager
def run_registry(
    directory: Path, *, auth: tuple[str, str] | None = None, access_log: bool = False
) -> Iterator[RegistryServer]:
    """Start ``docker-registry serve`` on a free port; stop it on exit. With ``access_log`` the registry
    writes one line per request to ``server.log`` (see :func:`access_lines`)."""
    binary = shutil.which(REGISTRY_BINARY)
    if binary is None:
        pytest.skip(f"{REGISTRY_BINARY} is not installed (apt-get install docker-registry)")
    htpasswd = None
    if auth is not None:
        htpasswd = directory / "htpasswd"
        htpasswd.write_text(_htpasswd_line(*auth))
    # The port is free when chosen but may be taken before the registry binds it (tests run side by side):
    # the registry then exits, and the next attempt takes another port. Each start has its own identity
    # header, so a registry of another test that holds the port is never taken for this one.
    for attempt in range(_START_ATTEMPTS):
        port = _free_port()
        identity = uuid.uuid4().hex
        config = _write_config(directory, port, htpasswd, access_log, identity)
        log_path = directory / "registry.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [binary, "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # only sets the parent-death signal
        )
        server = RegistryServer(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", auth, log_path)
        try:
            if _wait_ready(server, process, log_path, identity, last_attempt=attempt == _START_ATTEMPTS - 1):
                yield server
                return
        finally:
            _stop(process)
            log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(
    server: RegistryServer, process: subprocess.Popen[bytes], log: Path, identity: str, *, last_attempt: bool
) -> bool:
    """True once this registry answers ``/v2/``; False if it could not take its port (try another)."""
    import requests

    deadline = time.monotonic() + _START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            if "address already in use" in output and not last_attempt:
                return False
            raise RuntimeError(f"docker-registry exited with {process.returncode}: {output[-2000:]}")
        with contextlib.suppress(requests.ConnectionError):
            answer = requests.get(f"{server.base_url}/v2/", timeout=2)
            if answer.status_code in {200, 401} and answer.headers.get(_IDENTITY_HEADER) == identity:
                return True
        time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not answer /v2/ within {_START_DEADLINE} s")


def push_image(
    base_url: str,
    name: str,
    tag: str,
    *,
    auth: tuple[str, str] | None = None,
    content: str = "",
    created: str | None = None,
    session: requests.Session | None = None,
) -> str:
    """Push a config blob and an OCI manifest as ``name:tag``; return the manifest digest.

    ``content`` changes the config (and so the digest); by default it is derived from name and tag.
    ``created`` is the config's build time (RFC 3339). Pass a ``session`` to push many images quickly.
    """
    import requests

    fields = {"architecture": "amd64", "os": "linux", "promoter-test": content or f"{name}:{tag}"}
    if created is not None:
        fields["created"] = created
    config = json.dumps(fields)
    blob = config.encode()
    blob_digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
    with contextlib.nullcontext(session) if session is not None else requests.Session() as http:
        http.auth = auth
        started = http.post(f"{base_url}/v2/{name}/blobs/uploads/", timeout=10)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        upload_url = location if location.startswith("http") else f"{base_url}{location}"
        done = http.put(
            upload_url,
            params={"digest": blob_digest},
            data=blob,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert done.status_code == 201, done.text
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": blob_digest, "size": len(blob)},
                "layers": [],
            }
        ).encode()
        pushed = http.put(
            f"{base_url}/v2/{name}/manifests/{tag}",
            data=manifest,
            headers={"Content-Type": OCI_MANIFEST},
            timeout=10,
        )
        assert pushed.status_code == 201, pushed.text
        digest = pushed.headers["Docker-Content-Digest"]
        assert digest == f"sha256:{hashlib.sha256(manifest).hexdigest()}"
        return digest


def access_lines(server: RegistryServer, needle: str = "") -> list[str]:
    """The registry's access-log lines (``"GET /v2/NAME/tags/list HTTP/1.1" 200 ...``) containing ``needle``."""
    assert server.log is not None
    return [
        line for line in server.log.read_text(errors="replace").splitlines() if '"' in line and needle in line
    ]


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An anonymous registry on 127.0.0.1 for the whole session."""
    with run_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="session")
def auth_registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry requiring Basic auth (htpasswd, bcrypt) as ``pusher`` / ``s3cret-registry-pass``."""
    with run_registry(
        tmp_path_factory.mktemp("registry-auth"), auth=("pusher", "s3cret-registry-pass")
    ) as server:
        yield server
