"""``promoter update`` end to end: the real docker-registry (its access log counts the calls), bare repos.

The module's registry holds ``upd/api`` with the tags that trip naive updaters: ``1.9`` and ``1.10`` (a
string sort gets them backwards), pre-releases, builds of one version (``_`` stands for ``+``, which a tag
cannot hold), tags that are no version at all and a moving ``latest``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from promoter.errors import EXIT_OPERATIONAL, EXIT_USAGE
from tests.support.gitrepos import git, make_remote, remote_text
from tests.support.registry import RegistryServer, access_lines, push_image, run_registry

API_TAGS = [
    "1.2.0", "1.9", "1.10", "1.10.0_2", "1.10.0_10", "1.11.0-rc.1", "2.0.0-beta.1", "latest", "main-3f2a1b",
    "2024-06-27", "v1.8.0",
]  # fmt: skip
NEWEST_IN_1 = "1.10.0_10"  # ^1.2: 1.10 > 1.9, the last build of 1.10.0, no pre-release


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with run_registry(tmp_path_factory.mktemp("update-registry"), access_log=True) as server:
        with requests.Session() as http:
            for tag in API_TAGS:
                push_image(server.base_url, "upd/api", tag, session=http)
        yield server


def config_text(registry: RegistryServer, apps: str, envs: str = "") -> str:
    return (
        "version: 1\n"
        "environments:\n"
        "  staging: {branch: staging}\n"
        "  qa: {branch: qa}\n"
        "  production: {branch: production, approval: true}\n"
        f"{envs}"
        "apps:\n" + apps.replace("REG", registry.host)
    )


def run_update(
    run_cli: Any, config: Path, remote: Path, *args: str, env: dict[str, str] | None = None
) -> Any:
    return run_cli("--config", str(config), "--repo", str(remote), "update", *args, env=env)


def as_json(run_cli: Any, config: Path, remote: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_cli("--config", str(config), "--repo", str(remote), "-o", "json", "update", *args)
    return done.exit_code, json.loads(done.stdout)


def head_message(remote: Path, branch: str) -> str:
    return git("log", "-1", "--format=%B", branch, cwd=remote)


def count(remote: Path, branch: str) -> int:
    return int(git("rev-list", "--count", branch, cwd=remote))


VALUES = (
    "# api and worker share one image repository\r\n"
    "api:\r\n"
    "  image:\r\n"
    "    repository: REG/upd/api   # the API\r\n"
    "    tag: '1.9'  # kept quoted: 1.10 would read as a number\r\n"
    "worker:\r\n"
    "  image: REG/upd/api:1.2.0\r\n"
    "  replicas: 2\r\n"
)


def test_semver_edits_byte_exact_once_per_environment_and_is_idempotent(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    values = VALUES.replace("REG", registry.host)
    remote = make_remote(tmp_path, {"values.yaml": values}, branches=("staging", "qa", "production"))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        config_text(
            registry,
            "  api: {image: 'REG/upd/api', files: [{file: values.yaml, key: api.image.tag}],"
            " update: {strategy: semver, constraint: '^1.2'}}\n"
            "  worker: {image: 'REG/upd/api', files: [{file: values.yaml, key: worker.image}],"
            " update: {strategy: semver, constraint: '~1.9', environments: [staging]}}\n",
        )
    )
    before = len(access_lines(registry, "/v2/upd/api/tags/list"))

    done = run_update(run_cli, config, remote)
    assert done.exit_code == 0, done.output
    # one listing of upd/api for two apps in two environments
    assert len(access_lines(registry, "/v2/upd/api/tags/list")) == before + 1
    expected = values.replace("tag: '1.9'", f"tag: '{NEWEST_IN_1}'").replace(":1.2.0", ":1.9")
    assert remote_text(remote, "staging", "values.yaml") == expected  # CRLF, comments, quotes kept
    assert remote_text(remote, "qa", "values.yaml") == values.replace("tag: '1.9'", f"tag: '{NEWEST_IN_1}'")
    assert remote_text(remote, "production", "values.yaml") == values  # approval: not by default
    message = head_message(remote, "staging")
    assert f"- api: 1.9 -> {NEWEST_IN_1}" in message and "- worker: 1.2.0 -> 1.9" in message
    assert "Promoter-App: api, worker" in message and "Promoter-Env: staging" in message
    assert "Promoter-Pipeline" not in message
    assert count(remote, "staging") == 2 and count(remote, "qa") == 2  # one commit per environment
    assert "registry calls: 1" in done.stdout

    again = run_update(run_cli, config, remote)
    assert again.exit_code == 0, again.output
    assert count(remote, "staging") == 2 and count(remote, "qa") == 2
    assert "unchanged: staging already says so" not in again.stdout  # nothing moved: no transaction at all
    assert f"{NEWEST_IN_1} is the newest" in again.stdout


def test_plan_table_and_dry_run_change_nothing(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    values = VALUES.replace("REG", registry.host)
    remote = make_remote(tmp_path, {"values.yaml": values}, branches=("staging", "qa", "production"))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        config_text(
            registry,
            "  api: {image: 'REG/upd/api', files: [{file: values.yaml, key: api.image.tag}],"
            " update: {strategy: semver, constraint: '>=1.11.0-rc.0 <2', environments: [staging]}}\n",
        )
    )
    heads = git("rev-parse", "staging", "qa", cwd=remote)
    dry = run_update(run_cli, config, remote, "--dry-run")
    assert dry.exit_code == 0, dry.output
    header, row = dry.stdout.splitlines()[:2]
    assert header.split() == ["app", "env", "current", "candidate", "why"]
    assert row.split()[:4] == ["api", "staging", "1.9", "1.11.0-rc.1"]  # the range names a pre-release
    assert "-    tag: '1.9'" in dry.stdout and "+    tag: '1.11.0-rc.1'" in dry.stdout
    assert "dry run: nothing pushed to staging" in dry.stdout
    code, payload = as_json(run_cli, config, remote, "--dry-run")
    assert code == 0 and payload["ok"] is True and payload["result"] == "dry-run"
    assert payload["plan"] == [
        {
            "app": "api",
            "env": "staging",
            "strategy": "semver",
            "status": "update",
            "current": "1.9",
            "candidate": "1.11.0-rc.1",
            "image": f"{registry.host}/upd/api:1.11.0-rc.1",
            "why": "highest in >=1.11.0-rc.0 <2 of 11 tags",
            "hold": None,
        }
    ]
    assert payload["environments"][0]["result"] == "dry-run"
    assert payload["registry_calls"]["total"] == 1
    assert git("rev-parse", "staging", "qa", cwd=remote) == heads


def test_tag_pagination_is_followed_and_counted(run_cli: Any, tmp_path: Path) -> None:
    """Debian's docker-registry 2.8 answers every tag at once and ignores ``n``; distribution 3 and the big
    registries paginate with ``Link``: the pages here are shaped like distribution 3's."""
    remote = make_remote(
        tmp_path, {"v.yaml": "image: registry.example.com/acme/api:1.9\n"}, branches=("staging",)
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\n"
        "apps: {api: {image: registry.example.com/acme/api, files: [v.yaml], update: {constraint: '^1'}}}\n"
    )
    url = "https://registry.example.com/v2/acme/api/tags/list"
    pages = [["1.10", "1.9"], ["1.10.1-rc.1", "2.0.0"], ["1.11.0"]]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        last = None
        for number, page in enumerate(pages):
            wanted = {"n": "2"} if last is None else {"n": "2", "last": last}
            links = (
                {}
                if number == len(pages) - 1
                else {"Link": f'</v2/acme/api/tags/list?last={page[-1]}&n=2>; rel="next"'}
            )
            mock.add(
                responses.GET,
                url,
                json={"name": "acme/api", "tags": page},
                headers=links,
                match=[responses.matchers.query_param_matcher(wanted)],
            )
            last = page[-1]
        code, payload = as_json(run_cli, config, remote, "--page-size", "2", "--dry-run")
    assert code == 0, payload
    assert payload["registry_calls"]["total"] == 3
    assert payload["plan"][0]["candidate"] == "1.11.0"  # on the last page


def test_a_newer_version_deployed_by_hand_stays(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    values = f"image:\n  repository: {registry.host}/upd/api\n  tag: 2.0.0-beta.1\n"
    remote = make_remote(tmp_path, {"v.yaml": values}, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\n"
        f"apps: {{api: {{image: '{registry.host}/upd/api', files: [v.yaml], update: {{constraint: '^1.2'}}}}}}\n"
    )
    code, payload = as_json(run_cli, config, remote)
    assert code == 0
    assert payload["plan"][0]["status"] == "newer-deployed"
    assert "not moved back" in payload["plan"][0]["why"]
    assert remote_text(remote, "staging", "v.yaml") == values


MOVING = """\
helm:
  image:
    repository: REG/NAME
    tag: latest
    digest: ""
deployment:
  containers:
    - name: app
      image: REG/NAME:latest
"""
KUSTOMIZATION = """\
images:
  - name: REG/NAME
    newTag: latest
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
"""


def test_digest_pins_the_moving_tag_where_each_file_keeps_it(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    name = "upd/moving"
    first = push_image(registry.base_url, name, "latest", content="build one")
    files = {
        "values.yaml": MOVING.replace("REG", registry.host).replace("NAME", name),
        "kustomization.yaml": KUSTOMIZATION.replace("REG", registry.host).replace("NAME", name),
    }
    remote = make_remote(tmp_path, files, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\n"
        f"apps: {{web: {{image: '{registry.host}/{name}', files: [values.yaml, kustomization.yaml],"
        " update: {strategy: digest, tag: latest}}}\n"
    )
    done = run_update(run_cli, config, remote)
    assert done.exit_code == 0, done.output
    values = files["values.yaml"]
    assert remote_text(remote, "staging", "values.yaml") == values.replace(
        'digest: ""', f'digest: "{first}"'
    ).replace(f"{name}:latest", f"{name}:latest@{first}")
    assert remote_text(remote, "staging", "kustomization.yaml") == files["kustomization.yaml"].replace(
        "sha256:" + "0" * 64, first
    )
    assert run_update(run_cli, config, remote).exit_code == 0
    assert count(remote, "staging") == 2  # unchanged while latest stays

    second = push_image(registry.base_url, name, "latest", content="build two")  # latest moves
    moved = run_update(run_cli, config, remote)
    assert moved.exit_code == 0, moved.output
    text = remote_text(remote, "staging", "values.yaml")
    assert first not in text and text.count(second) == 2
    assert second in remote_text(remote, "staging", "kustomization.yaml")
    assert f"web: latest -> {registry.host}/{name}:latest@{second}" in moved.stdout


def test_newest_build_and_numerical(run_cli: Any, registry: RegistryServer, tmp_path: Path) -> None:
    name = "upd/builds"
    with requests.Session() as http:
        for tag, created in [
            ("main-aaa-9", "2026-11-01T10:00:00Z"),
            ("main-bbb-10", "2026-11-01T09:00:00.123456789Z"),  # numerically higher, built earlier
            ("main-ccc-8", "2026-11-02T08:00:00+01:00"),  # built last
            ("latest", "2026-10-01T00:00:00Z"),
        ]:
            push_image(registry.base_url, name, tag, created=created, session=http)
    files = {
        "a.yaml": f"image: {registry.host}/{name}:main-aaa-9\n",
        "b.yaml": f"image: {registry.host}/{name}:main-aaa-9\n",
    }
    remote = make_remote(tmp_path, files, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    pattern = r"'^main-[a-f0-9]+-(?P<version>\d+)$'"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\napps:\n"
        f"  newest: {{image: '{registry.host}/{name}', files: [a.yaml],"
        f" update: {{strategy: newest-build, tags: {pattern}}}}}\n"
        f"  numbered: {{image: '{registry.host}/{name}', files: [b.yaml],"
        f" update: {{strategy: numerical, tags: {pattern}}}}}\n"
    )
    done = run_update(run_cli, config, remote)
    assert done.exit_code == 0, done.output
    assert remote_text(remote, "staging", "a.yaml") == f"image: {registry.host}/{name}:main-ccc-8\n"
    assert remote_text(remote, "staging", "b.yaml") == f"image: {registry.host}/{name}:main-bbb-10\n"
    assert "newest build, created 2026-11-02T07:00:00+00:00" in done.stdout


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but never listening while the test runs: connections are refused, and no server of
    another test can take it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_a_registry_that_is_down_skips_its_apps_and_the_others_still_update(
    run_cli: Any, registry: RegistryServer, tmp_path: Path, closed_port: int
) -> None:
    down = f"127.0.0.1:{closed_port}"
    files = {
        "v.yaml": f"api:\n  image: {registry.host}/upd/api:1.9\nother:\n  image: {down}/team/other:1.0.0\n"
    }
    remote = make_remote(tmp_path, files, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\napps:\n"
        f"  api: {{image: '{registry.host}/upd/api', files: [v.yaml], update: {{constraint: '^1'}}}}\n"
        f"  other: {{image: '{down}/team/other', files: [v.yaml], update: {{constraint: '^1'}}}}\n"
        f"  other2: {{image: '{down}/team/other2', files: [{{file: v.yaml, key: other.image}}], update: {{}}}}\n"
    )
    done = run_update(run_cli, config, remote)
    assert done.exit_code == EXIT_OPERATIONAL, done.output
    assert remote_text(remote, "staging", "v.yaml") == files["v.yaml"].replace(":1.9", f":{NEWEST_IN_1}")
    assert f"promoter: error: registry {down} is unreachable (connection refused)" in done.stderr
    assert done.stderr.count("promoter: error:") == 1  # one line for the registry, not one per app
    assert "skipped" not in done.stdout or f"{down} did not answer" in done.stdout
    code, payload = as_json(run_cli, config, remote)
    assert code == EXIT_OPERATIONAL
    assert payload["ok"] is False and payload["error"]["type"] == "RegistryError"
    assert [row["status"] for row in payload["plan"]] == ["current", "skipped", "skipped"]
    assert payload["registry_calls"]["by_registry"][down] == 1  # a registry found down is not asked again


def test_selection_and_config_errors(run_cli: Any, registry: RegistryServer, tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"v.yaml": f"image: {registry.host}/upd/api:1.9\n"}, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}, production: {branch: production, approval: true}}\n"
        f"apps:\n  api: {{image: '{registry.host}/upd/api', files: [v.yaml], update: {{constraint: '^1'}}}}\n"
        f"  plain: {{image: '{registry.host}/upd/api', files: [v.yaml]}}\n"
    )
    typo = run_update(run_cli, config, remote, "stagin")
    assert typo.exit_code == EXIT_USAGE and "did you mean" in typo.stderr
    plain = run_update(run_cli, config, remote, "--app", "plain")
    assert plain.exit_code == EXIT_USAGE and "app plain has no update: policy" in plain.stderr
    production = run_update(run_cli, config, remote, "production", "--dry-run")
    assert production.exit_code == 0 and "nothing to update" in production.stdout  # approval: not by default
    config.write_text(config.read_text().replace("'^1'", "'^1.x.y'"))
    bad = run_update(run_cli, config, remote)
    assert bad.exit_code == EXIT_USAGE
    assert "not an npm-style version range" in bad.stderr and "promoter.yaml:4:" in bad.stderr


def test_rate_limit_429_with_retry_after_is_honoured(
    run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promoter.registry import transport

    waits: list[float] = []
    monkeypatch.setattr(transport, "_sleep", waits.append)
    remote = make_remote(
        tmp_path, {"v.yaml": "image: registry.example.com/acme/api:1.0.0\n"}, branches=("staging",)
    )
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\n"
        "apps: {api: {image: 'registry.example.com/acme/api', files: [v.yaml], update: {constraint: '^1'}}}\n"
    )
    url = "https://registry.example.com/v2/acme/api/tags/list"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(
            responses.GET,
            url,
            status=429,
            headers={"Retry-After": "7"},
            json={"errors": [{"code": "TOOMANYREQUESTS"}]},
        )
        mock.add(responses.GET, url, json={"name": "acme/api", "tags": ["1.0.0", "1.1.0"]})
        code, payload = as_json(run_cli, config, remote)
    assert code == 0, payload
    assert waits == [7.0]
    assert payload["registry_calls"] == {"total": 2, "by_registry": {"registry.example.com": 2}}
    assert remote_text(remote, "staging", "v.yaml") == "image: registry.example.com/acme/api:1.1.0\n"


def test_the_edit_decides_again_on_the_newest_head(
    run_cli: Any, registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the plan and the push another pipeline deploys a newer build: update leaves it alone."""
    from promoter.workflows import delivery

    image = f"{registry.host}/upd/api"
    values = f"api:\n  image: {image}:1.9\nweb:\n  image: {image}:1.2.0\n"
    remote = make_remote(tmp_path, {"v.yaml": values}, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\napps:\n"
        f"  api: {{image: '{image}', files: [{{file: v.yaml, key: api.image}}], update: {{constraint: '^1'}}}}\n"
        f"  web: {{image: '{image}', files: [{{file: v.yaml, key: web.image}}], update: {{constraint: '~1.2'}}}}\n"
    )
    real = delivery.deliver

    def push_first(*args: Any, **kwargs: Any) -> Any:
        seed = tmp_path / "other-pipeline"
        git("clone", "-q", "-b", "staging", str(remote), str(seed), cwd=tmp_path)
        text = (seed / "v.yaml").read_text().replace(f"{image}:1.9", f"{image}:2.0.0-beta.1")
        (seed / "v.yaml").write_text(text)
        git("commit", "-qam", "api: staging -> 2.0.0-beta.1", cwd=seed)
        git("push", "-q", "origin", "staging", cwd=seed)
        return real(*args, **kwargs)

    monkeypatch.setattr(delivery, "deliver", push_first)
    code, payload = as_json(run_cli, config, remote)
    assert code == 0, payload
    statuses = {row["app"]: (row["status"], row["why"]) for row in payload["plan"]}
    assert statuses["api"][0] == "moved-meanwhile"
    assert "2.0.0-beta.1 is newer than" in statuses["api"][1]
    assert statuses["web"][0] == "current"  # ~1.2: 1.2.0 is the newest
    assert remote_text(remote, "staging", "v.yaml") == values.replace(":1.9", ":2.0.0-beta.1")
    assert payload["environments"][0]["result"] == "unchanged"


def test_files_that_pin_digests_keep_pinning(run_cli: Any, registry: RegistryServer, tmp_path: Path) -> None:
    name = "upd/pinned"
    with requests.Session() as http:
        old = push_image(registry.base_url, name, "1.0.0", session=http)
        new = push_image(registry.base_url, name, "1.1.0", session=http)
    values = f"image:\n  repository: {registry.host}/{name}\n  tag: 1.0.0@{old}  # Renovate style\n"
    remote = make_remote(tmp_path, {"v.yaml": values}, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\n"
        f"apps: {{api: {{image: '{registry.host}/{name}', files: [v.yaml], update: {{constraint: '^1'}}}}}}\n"
    )
    done = run_update(run_cli, config, remote)
    assert done.exit_code == 0, done.output
    assert remote_text(remote, "staging", "v.yaml") == values.replace(f"1.0.0@{old}", f"1.1.0@{new}")


def test_an_approval_environment_gets_one_request_for_every_app(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    from tests.unit.forge.payloads import gitlab_mr

    image = f"{registry.host}/upd/api"
    values = f"api:\n  image: {image}:1.9\nworker:\n  image: {image}:1.2.0\n"
    remote = make_remote(tmp_path, {"v.yaml": values}, branches=("staging", "production"))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\n"
        'forge: {type: gitlab, url: "https://gitlab.example.com", project: acme/environments}\n'
        "environments: {staging: {branch: staging}, production: {branch: production, approval: true}}\napps:\n"
        f"  api: {{image: '{image}', files: [{{file: v.yaml, key: api.image}}],"
        " update: {constraint: '^1', environments: [production]}}\n"
        f"  worker: {{image: '{image}', files: [{{file: v.yaml, key: worker.image}}],"
        " update: {constraint: '~1.9', environments: [staging, production]}}\n"
    )
    mrs = "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments/merge_requests"
    production = git("rev-parse", "production", cwd=remote)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.add_passthru(registry.base_url)
        api.get(mrs, json=[])
        api.post(mrs, status=201, json=gitlab_mr(7, source="promoter/production/update", target="production"))
        done = run_update(run_cli, config, remote, env={"PROMOTER_TOKEN": "glpat-update-test-0000"})
        assert done.exit_code == 0, done.output
        created = json.loads(api.calls[1].request.body)
    assert created["source_branch"] == "promoter/production/update"
    assert created["target_branch"] == "production"
    assert created["title"] == f"update production: api {NEWEST_IN_1}, worker 1.9"
    assert git("rev-parse", "production", cwd=remote) == production  # never pushed to
    proposed = remote_text(remote, "promoter/production/update", "v.yaml")
    assert proposed == values.replace(":1.9", f":{NEWEST_IN_1}").replace(":1.2.0", ":1.9")
    assert remote_text(remote, "staging", "v.yaml") == values.replace(":1.2.0", ":1.9")  # worker only
    assert "approval request created" in done.stdout


def test_long_listings_report_progress(tmp_path: Path) -> None:
    import io

    from promoter import progress
    from promoter.workflows.session import open_session
    from promoter.workflows.update import UpdateOptions, update

    files = {f"app{n}.yaml": f"image: registry.example.com/acme/app{n}:1.0.0\n" for n in range(3)}
    remote = make_remote(tmp_path, files, branches=("staging",))
    config = tmp_path / "promoter.yaml"
    apps = "".join(
        f"  app{n}: {{image: registry.example.com/acme/app{n}, files: [app{n}.yaml], update: {{}}}}\n"
        for n in range(3)
    )
    config.write_text("version: 1\nenvironments: {staging: {branch: staging}}\napps:\n" + apps)
    session = open_session(config_path=str(config), repo=str(remote), environ={})
    stream = io.StringIO()
    progress.configure(stream=stream, tty=False, interval=0.0, delay=0.0)
    try:
        with responses.RequestsMock() as mock:
            for n in range(3):
                url = f"https://registry.example.com/v2/acme/app{n}/tags/list"
                mock.add(
                    responses.GET,
                    url,
                    json={"tags": ["1.0.0"]},
                    headers={"Link": f'</v2/acme/app{n}/tags/list?last=1.0.0&n=1>; rel="next"'},
                    match=[responses.matchers.query_param_matcher({"n": "1"})],
                )
                mock.add(
                    responses.GET,
                    url,
                    json={"tags": ["1.1.0"]},
                    match=[responses.matchers.query_param_matcher({"n": "1", "last": "1.0.0"})],
                )
            result = update(session, UpdateOptions(dry_run=True, page_size=1))
    finally:
        progress.configure()
    assert [row.candidate for row in result.rows] == ["1.1.0"] * 3
    lines = stream.getvalue().splitlines()
    assert any(
        line.startswith("update: asking registries: ") and "of 3 repositories" in line for line in lines
    )
    assert any("pages of tags" in line for line in lines)
    assert lines[-1].startswith("update: asking registries: done")


# -- gates: a scheduled job respects freeze windows and holds ----------------------------------------------
TWO_APPS = "api:\n  image: REG/upd/api:1.9\nworker:\n  image: REG/upd/api:1.2.0\n"
CI = {"GITLAB_CI": "true", "GITLAB_USER_LOGIN": "alice", "CI_PIPELINE_URL": "https://ci.example.com/p/9"}


def gated_setup(registry: RegistryServer, tmp_path: Path, *, staging: str = "") -> tuple[Path, Path, str]:
    """staging and qa run api 1.9 and worker 1.2.0 (one file); both may be updated to ``^1``."""
    values = TWO_APPS.replace("REG", registry.host)
    remote = make_remote(tmp_path, {"values.yaml": values}, branches=("staging", "qa"))
    config = tmp_path / "promoter.yaml"
    config.write_text(
        "version: 1\nenvironments:\n"
        f"  staging: {{branch: staging{staging}}}\n"
        "  qa: {branch: qa}\n"
        "apps:\n"
        f"  api: {{image: '{registry.host}/upd/api', files: [{{file: values.yaml, key: api.image}}],"
        " update: {constraint: '^1'}}\n"
        f"  worker: {{image: '{registry.host}/upd/api', files: [{{file: values.yaml, key: worker.image}}],"
        " update: {constraint: '^1'}}\n"
    )
    return remote, config, values


def freeze_around_now() -> tuple[str, str]:
    """A freeze window that began an hour ago and ends in two hours (+01:00), and its end as shown."""
    from datetime import datetime, timedelta, timezone

    zone = timezone(timedelta(hours=1))
    start = (datetime.now(timezone.utc) - timedelta(hours=1)).astimezone(zone).replace(microsecond=0)
    until = (
        (datetime.now(timezone.utc) + timedelta(hours=2)).astimezone(zone).replace(second=0, microsecond=0)
    )
    window = (
        f', freeze: [{{from: "{start.isoformat()}", until: "{until.isoformat()}", reason: year-end freeze}}]'
    )
    return window, until.strftime("%Y-%m-%d %H:%M +01:00")


def hold(run_cli: Any, config: Path, remote: Path, env: str, app: str, reason: str) -> None:
    done = run_cli(
        "--config", str(config), "--repo", str(remote), "hold", env, "--app", app, "--reason", reason, env=CI
    )
    assert done.exit_code == 0, done.output


def test_a_frozen_environment_is_skipped_with_one_line_and_the_job_stays_green(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    window, ends = freeze_around_now()
    remote, config, values = gated_setup(registry, tmp_path, staging=window)
    staging = git("rev-parse", "staging", cwd=remote)

    done = run_update(run_cli, config, remote)
    assert done.exit_code == 0, done.output
    skipped = [line for line in done.stdout.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1, done.stdout
    assert skipped[0].startswith("skipped staging: staging is frozen: year-end freeze (")
    assert f"; it ends {ends} (" in skipped[0] and skipped[0].endswith(" UTC)")
    assert done.stderr == ""
    assert git("rev-parse", "staging", cwd=remote) == staging  # nothing pushed to the frozen environment
    moved = values.replace(":1.9", f":{NEWEST_IN_1}").replace(":1.2.0", f":{NEWEST_IN_1}")
    assert remote_text(remote, "qa", "values.yaml") == moved  # the other environment is updated

    before = len(access_lines(registry, "/v2/upd/api/tags/list"))
    code, payload = as_json(run_cli, config, remote, "staging")
    assert code == 0 and payload["ok"] is True and payload["result"] == "unchanged"
    assert payload["skipped"] == [
        {
            "env": "staging",
            "gate": "freeze",
            "reason": skipped[0].removeprefix("skipped staging: "),
            "until": payload["skipped"][0]["until"],
        }
    ]
    assert payload["skipped"][0]["until"].endswith("Z") and payload["plan"] == []
    assert payload["registry_calls"]["total"] == 0  # a frozen environment is not even asked about
    assert len(access_lines(registry, "/v2/upd/api/tags/list")) == before
    assert git("rev-parse", "staging", cwd=remote) == staging


def test_a_held_app_is_listed_with_who_and_why_while_the_others_move(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    remote, config, values = gated_setup(registry, tmp_path)
    hold(run_cli, config, remote, "staging", "worker", "memory leak")

    done = run_update(run_cli, config, remote, "staging")
    assert done.exit_code == 0, done.output
    assert remote_text(remote, "staging", "values.yaml") == values.replace(":1.9", f":{NEWEST_IN_1}")
    row = next(line for line in done.stdout.splitlines() if line.startswith("worker"))
    assert row.split()[:4] == ["worker", "staging", "1.2.0", "-"]
    assert "held by alice (https://ci.example.com/p/9) since " in row
    assert row.endswith(f": memory leak; not moved to {NEWEST_IN_1}")
    message = head_message(remote, "staging")
    assert "Promoter-App: api\n" in message and f"Promoter-Versions: api={NEWEST_IN_1}\n" in message

    code, payload = as_json(run_cli, config, remote, "staging", "--dry-run")
    assert code == 0, payload
    rows = {row["app"]: row for row in payload["plan"]}
    assert rows["api"]["status"] == "current" and rows["api"]["hold"] is None
    assert rows["worker"]["status"] == "held"
    assert (rows["worker"]["candidate"], rows["worker"]["image"]) == (NEWEST_IN_1, None)
    assert rows["worker"]["hold"]["by"] == "alice (https://ci.example.com/p/9)"
    assert rows["worker"]["hold"]["reason"] == "memory leak"
    assert payload["environments"] == []  # nothing else to move: no transaction


def test_a_hold_placed_between_the_plan_and_the_push_counts(
    run_cli: Any, registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promoter.workflows import delivery

    remote, config, values = gated_setup(registry, tmp_path)
    real = delivery.deliver

    def hold_first(*args: Any, **kwargs: Any) -> Any:
        seed = tmp_path / "on-call"
        git("clone", "-q", "-b", "staging", str(remote), str(seed), cwd=tmp_path)
        (seed / ".promoter").mkdir()
        (seed / ".promoter" / "holds.yaml").write_text(
            'holds:\n  worker:\n    reason: "paged at 3am"\n    by: "bob"\n    at: "2026-01-05T03:00:00Z"\n'
        )
        git("add", "-A", cwd=seed)
        git("commit", "-qm", "hold worker in staging", cwd=seed)
        git("push", "-q", "origin", "staging", cwd=seed)
        return real(*args, **kwargs)

    monkeypatch.setattr(delivery, "deliver", hold_first)
    code, payload = as_json(run_cli, config, remote, "staging")
    assert code == 0, payload
    rows = {row["app"]: (row["status"], row["why"]) for row in payload["plan"]}
    assert rows["api"][0] == "update"
    assert rows["worker"] == (
        "held",
        f"held by bob since 2026-01-05 03:00 UTC: paged at 3am; not moved to {NEWEST_IN_1}",
    )
    assert remote_text(remote, "staging", "values.yaml") == values.replace(":1.9", f":{NEWEST_IN_1}")
    assert [app["app"] for app in payload["environments"][0]["apps"]] == ["api"]


def test_an_app_rolled_back_stays_rolled_back(run_cli: Any, registry: RegistryServer, tmp_path: Path) -> None:
    remote, config, _ = gated_setup(registry, tmp_path)
    assert run_update(run_cli, config, remote, "staging").exit_code == 0
    assert f"api:\n  image: {registry.host}/upd/api:{NEWEST_IN_1}" in remote_text(
        remote, "staging", "values.yaml"
    )
    rolled = run_cli(
        "--config",
        str(config),
        "--repo",
        str(remote),
        "rollback",
        "staging",
        "--app",
        "api",
        "--reason",
        "5xx",
    )
    assert rolled.exit_code == 0, rolled.output
    rolled_back = remote_text(remote, "staging", "values.yaml")
    assert f"api:\n  image: {registry.host}/upd/api:1.9\n" in rolled_back

    code, payload = as_json(run_cli, config, remote, "staging")
    assert code == 0, payload
    api = next(row for row in payload["plan"] if row["app"] == "api")
    assert api["status"] == "held" and api["current"] == "1.9"
    assert api["hold"]["reason"] == f"rolled back from {NEWEST_IN_1} to 1.9: 5xx"
    assert remote_text(remote, "staging", "values.yaml") == rolled_back  # still 1.9
    assert payload["result"] == "unchanged"


def test_override_gates_moves_held_apps_in_a_frozen_environment_and_records_why(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    window, _ = freeze_around_now()
    remote, config, values = gated_setup(registry, tmp_path, staging=window)
    hold(run_cli, config, remote, "staging", "worker", "memory leak")
    empty = run_update(run_cli, config, remote, "staging", "--override-gates", "  ")
    assert empty.exit_code == EXIT_USAGE and "--override-gates needs a reason" in empty.stderr
    blank = run_update(run_cli, config, remote, "staging", env={"PROMOTER_UPDATE_OVERRIDE_GATES": " "})
    assert (
        blank.exit_code == EXIT_USAGE and "--override-gates needs a reason" in blank.stderr
    )  # read, refused

    code, payload = as_json(run_cli, config, remote, "staging", "--override-gates", "CVE-2026-0001 fix")
    assert code == 0, payload
    assert payload["skipped"] == []
    worker = next(row for row in payload["plan"] if row["app"] == "worker")
    assert worker["status"] == "update" and worker["hold"]["reason"] == "memory leak"
    assert worker["why"].endswith("; held, moved with --override-gates")
    gates = payload["environments"][0]["gates"]
    assert gates["override"] == "CVE-2026-0001 fix"
    assert [(block["gate"], block["app"]) for block in gates["passed"]] == [
        ("freeze", None),
        ("hold", "worker"),
    ]
    moved = values.replace(":1.9", f":{NEWEST_IN_1}").replace(":1.2.0", f":{NEWEST_IN_1}")
    assert remote_text(remote, "staging", "values.yaml") == moved
    message = head_message(remote, "staging")
    assert "Promoter-Override: CVE-2026-0001 fix" in message
    assert "Gates overridden (CVE-2026-0001 fix): staging is frozen: year-end freeze (" in message
    assert "; worker is held in staging: held by alice" in message


def test_history_lists_updates_changes_from_its_trailers(
    run_cli: Any, registry: RegistryServer, tmp_path: Path
) -> None:
    remote, config, _ = gated_setup(registry, tmp_path)
    done = run_update(run_cli, config, remote, "staging", env=CI)
    assert done.exit_code == 0, done.output
    message = head_message(remote, "staging")
    assert f"Promoter-Versions: api={NEWEST_IN_1}, worker={NEWEST_IN_1}\n" in message
    assert "Promoter-Actor: alice\n" in message and "Promoter-Run: https://ci.example.com/p/9" in message
    assert "Promoter-Pipeline" not in message  # the scheduled job is no build the downgrade guard compares
    commit = git("rev-parse", "staging", cwd=remote)

    shown = run_cli("--config", str(config), "--repo", str(remote), "-o", "json", "history", "staging")
    assert shown.exit_code == 0, shown.output
    changes = json.loads(shown.stdout)["changes"]
    newest = [change for change in changes if change["commit"] == commit]
    assert [(c["app"], c["version"], c["by"], c["source"]) for c in newest] == [
        ("api", NEWEST_IN_1, "alice", "trailers"),
        ("worker", NEWEST_IN_1, "alice", "trailers"),
    ]
    assert {c["pipeline"] for c in newest} == {"https://ci.example.com/p/9"}
