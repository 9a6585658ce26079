"""A real Docker credential helper for tests: ``docker-credential-<name>`` scripts in a directory on PATH.

:func:`install_helper` writes an executable Python script that answers ``get`` like Docker's helpers do
(JSON on stdout; ``credentials not found in native keychain`` and exit 1 for an unknown server) and logs
every call (argv, the server URL read from stdin, whether promoter's token was in its environment) to
``<dir>/<name>.calls`` as JSON lines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

_SCRIPT = """#!{python}
import json, os, sys, time
answers = {answers!r}
behaviour = {behaviour!r}
server = sys.stdin.read()
with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "server": server,
                           "promoter_token": "PROMOTER_TOKEN" in os.environ}}) + "\\n")
if behaviour == "fail":
    print("error getting credentials - the session token expired; run the login again")
    sys.exit(1)
if behaviour == "fail-with-secret":
    print(json.dumps({{"ServerURL": server, "Username": "u", "Secret": {secret!r}}}))
    sys.exit(3)
if behaviour == "hang":
    with open({pidfile!r}, "w") as handle:
        import subprocess
        child = subprocess.Popen(["sleep", "60"])
        handle.write(str(child.pid))
    time.sleep(60)
if behaviour == "garbage":
    print("not json")
    sys.exit(0)
if server not in answers:
    print("credentials not found in native keychain")
    sys.exit(1)
user, secret = answers[server]
print(json.dumps({{"ServerURL": server, "Username": user, "Secret": secret}}))
"""


def install_helper(
    bindir: Path,
    name: str,
    answers: dict[str, tuple[str, str]] | None = None,
    *,
    behaviour: str = "answer",
    secret: str = "",
) -> Path:
    """Write ``bindir/docker-credential-<name>``; ``answers`` maps a server URL to (Username, Secret)."""
    bindir.mkdir(parents=True, exist_ok=True)
    script = bindir / f"docker-credential-{name}"
    script.write_text(
        _SCRIPT.format(
            python=sys.executable,
            answers=answers or {},
            behaviour=behaviour,
            log=str(bindir / f"{name}.calls"),
            pidfile=str(bindir / f"{name}.pid"),
            secret=secret,
        )
    )
    script.chmod(0o755)
    return script


def helper_calls(bindir: Path, name: str) -> list[dict[str, object]]:
    path = bindir / f"{name}.calls"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def docker_config(directory: Path, **content: object) -> dict[str, str]:
    """Write ``directory/config.json``; the environment entry that points Docker tools at it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(content))
    return {"DOCKER_CONFIG": str(directory)}
