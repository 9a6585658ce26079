"""Helm ``tag: VERSION@sha256:DIGEST`` (Renovate and the bjw-s app-template): written whole, read as a version.

A promoter without this read such a tag as the bare repository (no version: ``status`` showed nothing and the
downgrade guard compared against nothing), refused a new digest for lack of a ``digest:`` key, found no image
in a block whose repository comes from a ``<<: *anchor`` merge, and let an edit of a merged tag silently
change another image that shares it. Real app-template files: tests/fixtures/real-world (see SOURCES.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from promoter.errors import EXIT_INPUT, EXIT_REFUSED
from promoter.yamledit import YamlDocument
from promoter.yamledit.finders import find_sites
from tests.support.gitrepos import git, make_remote, remote_text

FIXTURES = Path(__file__).parent.parent / "fixtures"
REAL_WORLD = FIXTURES / "real-world"
GOLDEN = FIXTURES / "golden" / "tag-digest"
TQM = "flux-helmrelease--app-template-tag-digest-anchor-merge.yaml"
TQM_DIGEST = "sha256:454864e1f56a86550c54776c3ba5f3439133b4fc4e66ef69ff90a6ee65db6cc5"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64

# real app-template file -> the new reference; the golden file holds the expected bytes
GOLDEN_CASES = {
    "flux-helmrelease--app-template-tag-digest.yaml": "docker.io/zenika/alpine-chrome:125@sha256:" + "e" * 64,
    TQM: "ghcr.io/home-operations/tqm:1.19.0@sha256:" + "c" * 64,
    "flux-helmrelease--app-template-tag-digest-merge-flow-args.yaml": "ghcr.io/buroa/qbtools:v0.22.0@sha256:"
    + "d" * 64,
}


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copyfile(REAL_WORLD / name, target)
    return target


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_set_image_writes_version_and_digest_into_the_pinned_tag(
    run_cli: Any, tmp_path: Path, name: str
) -> None:
    path = copy(tmp_path, name)
    result = run_cli("set-image", str(path), "--image", GOLDEN_CASES[name])
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == (GOLDEN / name).read_bytes()
    again = run_cli("set-image", str(path), "--image", GOLDEN_CASES[name])
    assert again.exit_code == 0 and "unchanged" in again.output


def test_a_pinned_tag_reads_as_its_version_and_digest() -> None:
    sites = find_sites(YamlDocument.read(REAL_WORLD / TQM))
    assert [(s.image.name, s.image.tag, s.image.digest) for s in sites] == [
        ("ghcr.io/home-operations/tqm", "1.18.0", TQM_DIGEST)
    ]
    assert sites[0].key == "spec.values.controllers.tqm.initContainers.retag.image.tag"


def test_a_new_tag_alone_drops_the_stale_pin_and_a_digest_alone_keeps_the_version(
    run_cli: Any, tmp_path: Path
) -> None:
    path = copy(tmp_path, TQM)
    assert (
        run_cli("set-image", str(path), "--image", f"ghcr.io/home-operations/tqm@{DIGEST_A}").exit_code == 0
    )
    assert f"tag: 1.18.0@{DIGEST_A}\n" in path.read_text()
    assert run_cli("set-image", str(path), "--image", "ghcr.io/home-operations/tqm:1.19.0").exit_code == 0
    assert "              tag: 1.19.0\n" in path.read_text()


def test_a_block_that_takes_its_repository_from_an_anchor_elsewhere(run_cli: Any, tmp_path: Path) -> None:
    text = (
        "x-defaults: &defaults\n"
        "  repository: ghcr.io/acme/api\n"
        "  pullPolicy: IfNotPresent\n"
        "controllers:\n"
        "  main:\n"
        "    containers:\n"
        "      app:\n"
        "        image:\n"
        "          <<: *defaults\n"
        f"          tag: 1.0.0@{DIGEST_A}  # renovate\n"
    )
    path = tmp_path / "values.yaml"
    path.write_text(text)
    result = run_cli(
        "--output", "json", "set-image", str(path), "--image", f"ghcr.io/acme/api:1.1.0@{DIGEST_B}"
    )
    assert result.exit_code == 0, result.output
    assert path.read_text() == text.replace(f"1.0.0@{DIGEST_A}", f"1.1.0@{DIGEST_B}")
    [change] = json.loads(result.stdout)["changes"]
    assert change["key"] == "controllers.main.containers.app.image.tag"
    assert (change["line"], change["old"]) == (10, f"1.0.0@{DIGEST_A}")


def test_a_tag_merged_from_an_anchor_is_edited_where_the_anchor_defines_it(
    run_cli: Any, tmp_path: Path
) -> None:
    text = (
        "x-image: &image\n"
        "  repository: ghcr.io/acme/api\n"
        f"  tag: 1.0.0@{DIGEST_A}\n"
        "api:\n"
        "  image:\n"
        "    <<: *image\n"
        "    pullPolicy: Always\n"
    )
    path = tmp_path / "values.yaml"
    path.write_text(text)
    result = run_cli(
        "--output", "json", "set-image", str(path), "--image", f"ghcr.io/acme/api:2.0.0@{DIGEST_B}"
    )
    assert result.exit_code == 0, result.output
    assert path.read_text() == text.replace(f"1.0.0@{DIGEST_A}", f"2.0.0@{DIGEST_B}")
    assert [c["key"] for c in json.loads(result.stdout)["changes"]] == ["x-image.tag"]


def test_a_version_another_image_takes_from_the_same_merge_is_not_changed(
    run_cli: Any, tmp_path: Path
) -> None:
    text = (
        "base: &base\n"
        "  repository: ghcr.io/acme/api\n"
        f"  tag: 1.0.0@{DIGEST_A}\n"
        "worker:\n"
        "  image:\n"
        "    <<: *base\n"
        "    repository: ghcr.io/acme/worker\n"
    )
    path = tmp_path / "values.yaml"
    path.write_text(text)
    result = run_cli("set-image", str(path), "--image", "ghcr.io/acme/api:2.0.0")
    assert result.exit_code == EXIT_INPUT, result.output
    assert "ghcr.io/acme/worker" in result.output and "merge" in result.output
    assert f"{path}:3:8" in result.output
    assert path.read_text() == text


# the env repo: status, the downgrade guard, bump -----------------------------------------------------
CONFIG = """\
version: 1
environments:
  prod: {branch: main}
apps:
  tqm:
    image: ghcr.io/home-operations/tqm
    files: [{file: helmrelease.yaml}]
"""


@pytest.fixture
def env_repo(tmp_path: Path) -> tuple[Path, Path]:
    remote = make_remote(tmp_path, {"helmrelease.yaml": (REAL_WORLD / TQM).read_text()})
    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG)
    return remote, config


def test_status_shows_the_version_of_a_pinned_tag(run_cli: Any, env_repo: tuple[Path, Path]) -> None:
    remote, config = env_repo
    result = run_cli("--config", str(config), "--repo", str(remote), "--output", "json", "status")
    assert result.exit_code == 0, result.output
    prod = json.loads(result.stdout)["apps"]["tqm"]["prod"]
    assert (prod["tag"], prod["digest"]) == ("1.18.0", TQM_DIGEST)


def test_the_downgrade_guard_sees_the_version_of_a_pinned_tag(
    run_cli: Any, env_repo: tuple[Path, Path]
) -> None:
    remote, config = env_repo
    head = git("rev-parse", "main", cwd=remote)
    args = ("--config", str(config), "--repo", str(remote), "bump", "prod", "--no-verify-image")
    result = run_cli(*args, "--app", "tqm", "--tag", "1.17.0")
    assert result.exit_code == EXIT_REFUSED, result.output
    assert "from 1.18.0 to 1.17.0" in result.output
    assert git("rev-parse", "main", cwd=remote) == head


def test_bump_writes_version_and_digest_through_the_merge(run_cli: Any, env_repo: tuple[Path, Path]) -> None:
    remote, config = env_repo
    image = f"ghcr.io/home-operations/tqm:1.19.0@{DIGEST_B}"
    args = ("--config", str(config), "--repo", str(remote), "bump", "prod", "--no-verify-image")
    result = run_cli(*args, "--image", image)
    assert result.exit_code == 0, result.output
    expected = (REAL_WORLD / TQM).read_text().replace(f"1.18.0@{TQM_DIGEST}", f"1.19.0@{DIGEST_B}")
    assert remote_text(remote, "main", "helmrelease.yaml") == expected
