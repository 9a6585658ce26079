"""Figures for `promoter bump` (BENCHMARKS.md, "bump").

Builds (once, cached in benchmarks/.work/) an env repo with 20,000 files, 5,000 commits and about 120 MB of
history, then times, side by side and alternating, on file:// and on local smart HTTP (git http-backend):

  naive    git clone + edit + commit + push (what CI scripts do today)
  minimal  partial (--filter=blob:none) depth-1 single-branch clone, sparse checkout of the one file, push
  promoter promoter bump (a subprocess, as a CI job runs it)

and 16 and 32 concurrent bumps of as many apps in one environment (one branch): how many land, the attempts
each needed under the retry budget (PROMOTER_RETRY_BUDGET, 120 s), and how many would have given up under
the former limit of 10 attempts. Prints medians and ratios.

The bot's identity, on the same repository, alternating within each round:

  unsigned  promoter bump (file://)
  ssh       the same with git.sign: ssh (an ed25519 key without passphrase, as CI keys usually are)
  openpgp   the same with git.sign: openpgp (an ed25519 key: import into a private GNUPGHOME, agent, signature)
  +pass     the same OpenPGP setup with a passphrase-protected key (its S2K derivation once per command)
  git       a bump authenticated as a GitHub App, pushed over smart HTTP to a loopback GitHub
  api       the same bump with git.commit_via: api: createCommitOnBranch on that loopback GitHub

    python3 benchmarks/bump.py [--runs 5] [--skip-http] [--concurrent 16,32] [--baseline DIR] [--skip-identity]

``--baseline DIR`` also times the promoter package in the source tree DIR (``git archive <commit> | tar -x``)
in the same runs, alternating with the current one, so a change is measured against what it replaced.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work"
FILES = 20_000
COMMITS = 5_000
BYTES_PER_COMMIT = 24_000
APPS = 16  # apps in the cached repo's values.yaml; the concurrency runs add more
FORMER_ATTEMPT_LIMIT = 10  # before the retry budget, a transaction gave up after this many attempts
sys.path.insert(0, str(ROOT.parent))


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return done.stdout


def values_text(tags: dict[int, str] | None = None, apps: range = range(APPS)) -> str:
    tags = tags or {}
    return "".join(
        f'app{i}:\n  image:\n    repository: registry.example.com/acme/app{i}\n    tag: "{tags.get(i, "1.0.0")}"\n\n'
        for i in apps
    )


def add_apps(url: str, count: int, env: dict[str, str]) -> None:
    """Append apps APPS..count-1 to values.yaml on main (one commit), for the concurrency runs."""
    if count <= APPS:
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "w"
        run(
            "git",
            "clone",
            "--quiet",
            "--filter=blob:none",
            "--depth",
            "1",
            "--no-checkout",
            url,
            str(work),
            env=env,
        )
        run("git", "sparse-checkout", "set", "--no-cone", "/values.yaml", cwd=work, env=env)
        run("git", "checkout", "--quiet", "main", cwd=work, env=env)
        with (work / "values.yaml").open("a") as values:
            values.write(values_text(apps=range(APPS, count)))
        run("git", "commit", "--quiet", "-am", f"apps up to app{count - 1}", cwd=work, env=env)
        run("git", "push", "--quiet", "origin", "HEAD:main", cwd=work, env=env)


def build_repo(target: Path) -> None:
    """fast-import stream: one big first commit, then commits that rewrite random blobs (incompressible)."""
    print(f"building {target} ({FILES} files, {COMMITS} commits); once, cached", flush=True)
    run("git", "init", "--quiet", "--bare", str(target))
    rng = random.Random(42)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=target, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    out = proc.stdin

    def blob_data(data: bytes) -> None:
        out.write(f"data {len(data)}\n".encode() + data + b"\n")

    when = 1_600_000_000
    for number in range(COMMITS):
        out.write(b"commit refs/heads/main\n")
        out.write(f"committer bench <bench@example.com> {when + number * 60} +0000\n".encode())
        blob_data(f"commit {number}\n".encode())
        if number == 0:
            out.write(b"M 100644 inline values.yaml\n")
            blob_data(values_text().encode())
            for index in range(FILES):
                out.write(f"M 100644 inline svc/{index // 200:03d}/file{index:05d}.yaml\n".encode())
                blob_data(f"name: file{index}\nvalue: {rng.getrandbits(256):x}\n".encode())
        else:
            remaining = BYTES_PER_COMMIT
            while remaining > 0:
                index = rng.randrange(FILES)
                size = min(remaining, 4_000)
                payload = rng.randbytes(size // 2).hex().encode()
                out.write(f"M 100644 inline svc/{index // 200:03d}/file{index:05d}.yaml\n".encode())
                blob_data(b"data: " + payload + b"\n")
                remaining -= size
    out.close()
    if proc.wait() != 0:
        raise SystemExit("fast-import failed")
    run("git", "config", "uploadpack.allowFilter", "true", cwd=target)
    run("git", "config", "uploadpack.allowAnySHA1InWant", "true", cwd=target)
    run("git", "config", "http.receivepack", "true", cwd=target)
    run("git", "repack", "-a", "-d", "-q", cwd=target)
    run("git", "symbolic-ref", "HEAD", "refs/heads/main", cwd=target)


def repo_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def identity_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "PROMOTER_", "CI", "GITHUB_", "GITLAB_"))
    }
    env.update(
        HOME=str(home),
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def bump_file(path: Path, app: int, tag: str) -> None:
    text = path.read_text()
    marker = f"app{app}:\n  image:\n    repository: registry.example.com/acme/app{app}\n    tag: "
    start = text.index(marker) + len(marker)
    end = text.index("\n", start)
    path.write_text(text[:start] + f'"{tag}"' + text[end:])


def naive(url: str, tag: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "w"
        run("git", "clone", "--quiet", url, str(work), env=env)
        bump_file(work / "values.yaml", 0, tag)
        run("git", "commit", "--quiet", "-am", f"app0 -> {tag}", cwd=work, env=env)
        run("git", "push", "--quiet", "origin", "HEAD:main", cwd=work, env=env)


def minimal(url: str, tag: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "w"
        run(
            "git",
            "clone",
            "--quiet",
            "--filter=blob:none",
            "--depth",
            "1",
            "--single-branch",
            "--branch",
            "main",
            "--no-checkout",
            url,
            str(work),
            env=env,
        )
        run("git", "sparse-checkout", "set", "--no-cone", "/values.yaml", cwd=work, env=env)
        run("git", "checkout", "--quiet", "main", cwd=work, env=env)
        bump_file(work / "values.yaml", 0, tag)
        run("git", "commit", "--quiet", "-am", f"app0 -> {tag}", cwd=work, env=env)
        run("git", "push", "--quiet", "origin", "HEAD:main", cwd=work, env=env)


def bump_command(url: str, config: Path, app: int, tag: str) -> list[str]:
    """``promoter bump`` as a CI job runs it, with JSON output."""
    return [
        sys.executable,
        "-m",
        "promoter",
        "--config",
        str(config),
        "--repo",
        url,
        "--output",
        "json",
        "bump",
        "prod",
        "--app",
        f"app{app}",
        "--tag",
        tag,
        "--no-verify-image",
    ]


def promoter(url: str, tag: str, env: dict[str, str], config: Path, app: int = 0) -> dict:
    return json.loads(run(*bump_command(url, config, app, tag), env=env))


def with_source(env: dict[str, str], source: Path) -> dict[str, str]:
    """``env`` that makes ``python -m promoter`` import the package from the source tree ``source``."""
    return dict(env, PYTHONPATH=str(source))


def timed(function, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def compare(
    label: str, url: str, runs: int, env: dict[str, str], config: Path, baseline: Path | None = None
) -> dict[str, float]:
    times: dict[str, list[float]] = {"naive": [], "minimal": [], "promoter": []}
    if baseline is not None:
        times["baseline"] = []
    for number in range(runs):
        tag = f"{label}-{number}-{time.time_ns()}"
        times["minimal"].append(timed(minimal, url, f"m{tag}", env))
        times["promoter"].append(timed(promoter, url, f"p{tag}", with_source(env, ROOT.parent), config))
        if baseline is not None:
            times["baseline"].append(timed(promoter, url, f"b{tag}", with_source(env, baseline), config))
        times["naive"].append(timed(naive, url, f"n{tag}", env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    line = (
        f"{label:5s} naive {medians['naive']:.3f}s  minimal {medians['minimal']:.3f}s  "
        f"promoter {medians['promoter']:.3f}s  -> naive/promoter {medians['naive'] / medians['promoter']:.1f}x, "
        f"promoter-minimal {medians['promoter'] - medians['minimal']:+.3f}s"
    )
    if baseline is not None:
        line += (
            f"; baseline {medians['baseline']:.3f}s, promoter/baseline "
            f"{medians['promoter'] / medians['baseline']:.2f}x"
        )
    print(line, flush=True)
    return medians


def concurrent(url: str, env: dict[str, str], config: Path, count: int, label: str = "promoter") -> None:
    """``count`` bumps of ``count`` different apps on one branch, all started at once."""
    start = time.perf_counter()
    procs = []
    tag = f"c{time.time_ns()}"
    for app in range(count):
        args = bump_command(url, config, app, tag)
        procs.append(
            (
                time.perf_counter(),
                subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            )
        )
    walls, attempts, landed, failures = [], [], 0, []
    for began, proc in procs:
        out, err = proc.communicate()
        walls.append(time.perf_counter() - began)
        payload = json.loads(out) if out.strip() else {}
        if proc.returncode == 0:
            landed += payload["result"] == "changed"
            attempts.append(payload["attempts"])
        else:
            failures.append(payload.get("error", {}).get("message") or err.strip().splitlines()[-1:])
            attempts.append(payload.get("error", {}).get("attempts", 0))
    total = time.perf_counter() - start
    spread = ", ".join(f"{n}: {attempts.count(n)}" for n in sorted(set(attempts)))
    over = sum(1 for n in attempts if n > FORMER_ATTEMPT_LIMIT)
    print(
        f"{label}: {count} concurrent bumps: {landed}/{count} landed; attempts median {statistics.median(attempts):g}, "
        f"max {max(attempts)} (attempts: bumps = {spread}); {over} needed more than the former limit of "
        f"{FORMER_ATTEMPT_LIMIT}; wall median {statistics.median(walls):.1f}s max {max(walls):.1f}s "
        f"(all done in {total:.1f}s)",
        flush=True,
    )
    for failure in failures:
        print(f"  failed: {failure}", flush=True)


def openpgp_key(directory: Path, passphrase: str) -> str:
    """An armored ed25519 OpenPGP secret key (protected by ``passphrase`` unless it is empty)."""
    home = directory / f"gnupg-{len(passphrase)}"
    home.mkdir(mode=0o700)
    gpg_env = dict(os.environ, GNUPGHOME=str(home))
    gpg = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase-fd", "0"]
    subprocess.run(
        [*gpg, "--quick-gen-key", "bench <bench@example.com>", "ed25519", "sign", "never"],
        input=passphrase, env=gpg_env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    armored = subprocess.run(
        [*gpg, "--armor", "--export-secret-keys"], input=passphrase, env=gpg_env, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    subprocess.run(["gpgconf", "--kill", "all"], env=gpg_env, check=False)
    return armored


def signing_keys(directory: Path) -> dict[str, dict[str, str]]:
    """Keys as the environment gives them: ed25519 SSH (no passphrase), ed25519 OpenPGP with and without one."""
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", str(directory / "ssh"))
    passphrase = "bench-passphrase"
    return {
        "ssh": {"PROMOTER_SIGNING_KEY": (directory / "ssh").read_text()},
        "openpgp": {"PROMOTER_SIGNING_KEY": openpgp_key(directory, "")},
        "openpgp+pass": {
            "PROMOTER_SIGNING_KEY": openpgp_key(directory, passphrase),
            "PROMOTER_SIGNING_PASSPHRASE": passphrase,
        },
    }


def identity_figures(pristine: Path, env: dict[str, str], runs: int) -> None:
    """Signed against unsigned bumps, and an API commit against a push, medians of ``runs`` rounds."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.support.fakegithub import APP_ID, serve_fake_github

    with tempfile.TemporaryDirectory(prefix="bench-id-", dir="/tmp") as tmp:  # short: gpg-agent sockets
        tmp_path = Path(tmp)
        keys = signing_keys(tmp_path)
        remote = tmp_path / "env.git"
        shutil.copytree(pristine, remote)
        apps = "".join(
            f"  app{i}: {{image: registry.example.com/acme/app{i}, files: [{{file: values.yaml}}]}}\n"
            for i in range(APPS)
        )
        configs = {}
        for sign in ("none", "ssh", "openpgp"):
            configs[sign] = tmp_path / f"{sign}.yaml"
            configs[sign].write_text(
                f'version: 1\ngit: {{author: "bench <bench@example.com>", sign: {sign}}}\n'
                f"environments: {{prod: {{branch: main}}}}\napps:\n{apps}"
            )
        local = with_source(dict(env, TMPDIR=tmp), ROOT.parent)
        times: dict[str, list[float]] = {
            name: [] for name in ("unsigned", "ssh", "openpgp", "openpgp+pass", "git", "api")
        }
        url = f"file://{remote}"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        root = tmp_path / "ghe"
        (root / "acme").mkdir(parents=True)
        with serve_fake_github(root, key.public_key()) as github:
            shutil.copytree(pristine, github.bare("acme/env"))
            github.installed.add("acme/env")
            for via in ("git", "api"):
                configs[via] = tmp_path / f"{via}.yaml"
                configs[via].write_text(
                    f'version: 1\nforge: {{type: github, url: "{github.url}", project: acme/env, app_id: {APP_ID}}}\n'
                    f"git: {{commit_via: {via}}}\nenvironments: {{prod: {{branch: main}}}}\napps:\n{apps}"
                )
            app_env = dict(local, PROMOTER_GITHUB_APP_KEY=pem)
            jobs = {
                "unsigned": (url, local, configs["none"]),
                "ssh": (url, {**local, **keys["ssh"]}, configs["ssh"]),
                "openpgp": (url, {**local, **keys["openpgp"]}, configs["openpgp"]),
                "openpgp+pass": (url, {**local, **keys["openpgp+pass"]}, configs["openpgp"]),
                "git": (github.repo_url("acme/env"), app_env, configs["git"]),
                "api": (github.repo_url("acme/env"), app_env, configs["api"]),
            }
            order = list(jobs)
            for number in range(runs):
                random.Random(number).shuffle(order)  # no kind always runs first or last in a round
                for name in order:
                    where, job_env, job_config = jobs[name]
                    tag = f"id-{name}-{number}-{time.time_ns()}".replace("+", "-")
                    times[name].append(timed(promoter, where, tag, job_env, job_config))
        medians = {name: statistics.median(values) for name, values in times.items()}

        def paired(kind: str, against: str) -> float:
            """The median of the per-round differences: drift in the machine's load cancels out."""
            return statistics.median(a - b for a, b in zip(times[kind], times[against]))

        signed = "  ".join(
            f"{kind} {medians[kind]:.3f}s (paired {paired(kind, 'unsigned'):+.3f}s)"
            for kind in ("ssh", "openpgp", "openpgp+pass")
        )
        print(f"signing, {runs} rounds: unsigned {medians['unsigned']:.3f}s  {signed}", flush=True)
        print(
            f"GitHub App, loopback GitHub: push {medians['git']:.3f}s  createCommitOnBranch {medians['api']:.3f}s "
            f"(paired {paired('api', 'git'):+.3f}s)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--concurrent", default="16,32", help="comma-separated numbers of concurrent bumps")
    parser.add_argument("--baseline", type=Path, help="a promoter source tree to compare against")
    parser.add_argument("--skip-identity", action="store_true", help="no signed or API-commit figures")
    parser.add_argument("--only-identity", action="store_true", help="only the signed and API-commit figures")
    options = parser.parse_args()
    counts = [int(n) for n in options.concurrent.split(",") if n]
    WORK.mkdir(exist_ok=True)
    pristine = WORK / "bench-env-pristine.git"
    if not pristine.exists():
        build_repo(pristine)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        remote = tmp_path / "env.git"
        shutil.copytree(pristine, remote)
        files = int(run("git", "ls-tree", "-r", "--name-only", "main", cwd=remote).count("\n"))
        commits = int(run("git", "rev-list", "--count", "main", cwd=remote))
        print(
            f"env repo: {files} files, {commits} commits, {repo_size(remote) / 1e6:.0f} MB on disk",
            flush=True,
        )
        home = tmp_path / "home"
        home.mkdir()
        (home / ".gitconfig").write_text('[protocol "file"]\n\tallow = always\n')
        env = identity_env(home)
        config = tmp_path / "promoter.yaml"
        config.write_text(
            "version: 1\nenvironments: {prod: {branch: main}}\napps:\n"
            + "".join(
                f"  app{i}: {{image: registry.example.com/acme/app{i}, files: [{{file: values.yaml}}]}}\n"
                for i in range(max([APPS, *counts]))
            )
        )
        if not options.skip_identity:
            identity_figures(pristine, env, options.runs)
        if options.only_identity:
            return
        compare("file", f"file://{remote}", options.runs, env, config, options.baseline)
        if not options.skip_http:
            from tests.support.githttp import serve_git_http

            token = "bench-token-0123456789"
            with serve_git_http(tmp_path, token=token) as server:
                # the baselines authenticate like promoter does: a Basic header from the environment
                header = base64.b64encode(f"oauth2:{token}".encode()).decode()
                http_env = dict(
                    env,
                    PROMOTER_TOKEN=token,
                    GIT_CONFIG_COUNT="1",
                    GIT_CONFIG_KEY_0="http.extraHeader",
                    GIT_CONFIG_VALUE_0=f"Authorization: Basic {header}",
                )
                compare("http", server.url(remote.name), options.runs, http_env, config, options.baseline)
        add_apps(f"file://{remote}", max([APPS, *counts]), env)
        for count in counts:
            concurrent(f"file://{remote}", with_source(env, ROOT.parent), config, count)
            if options.baseline is not None:
                concurrent(f"file://{remote}", with_source(env, options.baseline), config, count, "baseline")


if __name__ == "__main__":
    main()
