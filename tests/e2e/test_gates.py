"""Gates end to end against real bare repositories: freeze windows, holds, rollback, soak, required checks,
overrides, history and status (forge calls through `responses`, shaped like the official API docs).

Commit times are set with GIT_COMMITTER_DATE relative to the real clock; freeze windows are written
around the real clock (the unit tests in tests/unit/gates/ use fixed clocks for the edges).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses

from promoter.errors import EXIT_REFUSED, EXIT_USAGE
from tests.support.gitrepos import git, make_remote, remote_text

UTC = timezone.utc

VALUES = """\
api:
  image:
    repository: registry.example.com/acme/api
    tag: "{api}"
worker:
  image: registry.example.com/acme/worker:{worker}
"""

CONFIG = """\
version: 1
forge: {forge}
environments:
  staging:
    branch: staging
{staging_extra}
  production:
    branch: production
{production_extra}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{{file: values.yaml, key: api.image.tag}}]
  worker:
    image: registry.example.com/acme/worker
    files: [values.yaml]
promotion:
  - from: staging
    to: production
{promotion_extra}
"""
GITLAB = '{type: gitlab, url: "https://gitlab.example.com", project: acme/environments}'
GL = "https://gitlab.example.com/api/v4/projects/acme%2Fenvironments"
TOKEN = "glpat-gatesTESTtoken000"


def write_config(
    tmp_path: Path,
    *,
    forge: str = "{type: none}",
    staging: str = "",
    production: str = "",
    promotion: str = "",
) -> Path:
    config = tmp_path / "promoter.yaml"
    config.write_text(
        CONFIG.format(
            forge=forge,
            staging_extra=staging or "    path: ''",
            production_extra=production or "    path: ''",
            promotion_extra=promotion or "    soak: 0",
        )
    )
    return config


def commit_at(bare: Path, branch: str, files: dict[str, str], message: str, when: datetime) -> str:
    """A commit on ``branch`` made at ``when`` (author and committer date), pushed; returns its sha."""
    work = bare.parent / f"work-{branch}-{len(list(bare.parent.iterdir()))}"
    subprocess.run(["git", "clone", "-q", "-b", branch, str(bare), str(work)], check=True)
    for rel, text in files.items():
        (work / rel).write_text(text)
    stamp = f"{int(when.timestamp())} +0000"
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    git("add", "-A", cwd=work)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=work, check=True, env=env)
    git("push", "-q", "origin", f"HEAD:{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """staging runs api 1.1.0 / worker 2.1.0 (set two hours ago), production api 1.0.0 / worker 2.0.0."""
    bare = make_remote(
        tmp_path,
        {"values.yaml": VALUES.format(api="1.0.0", worker="2.0.0")},
        branches=("production", "staging"),
    )
    commit_at(
        bare,
        "staging",
        {"values.yaml": VALUES.format(api="1.1.0", worker="2.1.0")},
        "staging by hand",
        datetime.now(UTC) - timedelta(hours=2),
    )
    return bare


def cli(run_cli: Any, config: Path, repo: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli("--config", str(config), "--repo", str(repo), *args, env=env)


def head(bare: Path, branch: str) -> str:
    return git("rev-parse", f"refs/heads/{branch}", cwd=bare)


def message(bare: Path, branch: str) -> str:
    return git("log", "-1", "--format=%B", branch, cwd=bare)


def window_around_now() -> str:
    berlin = timezone(timedelta(hours=1))
    start = (datetime.now(UTC) - timedelta(hours=1)).astimezone(berlin).replace(microsecond=0)
    until = (datetime.now(UTC) + timedelta(hours=2)).astimezone(berlin).replace(microsecond=0, second=0)
    return (
        f'    freeze: [{{from: "{start.isoformat()}", until: "{until.isoformat()}", reason: year-end freeze}}]'
    ), until.strftime("%Y-%m-%d %H:%M +01:00")


# -- freeze windows -------------------------------------------------------------------------------------
def test_freeze_refuses_every_change_and_an_override_records_its_reason(
    run_cli: Any, repo: Path, tmp_path: Path
) -> None:
    freeze, ends = window_around_now()
    config = write_config(tmp_path, production=freeze)
    before = head(repo, "production")
    for args in (
        ("bump", "production", "--app", "api", "--tag", "1.2.0", "--no-verify-image"),
        ("promote", "staging", "production"),
        ("rollback", "production", "--app", "api", "--to", "1.0.0"),
    ):
        refused = cli(run_cli, config, repo, *args)
        assert refused.exit_code == EXIT_REFUSED, refused.output
        assert "production is frozen: year-end freeze (" in refused.stderr
        assert f"it ends {ends}" in refused.stderr
        assert "--override-gates REASON" in refused.stderr
    as_json = cli(run_cli, config, repo, "-o", "json", "bump", "production", "--app", "api", "--tag", "1.2.0")
    error = json.loads(as_json.stdout)["error"]
    assert (error["type"], error["exit_code"]) == ("GateRefusedError", 4)
    assert head(repo, "production") == before

    empty = cli(
        run_cli, config, repo, "bump", "production", "--app", "api", "--tag", "1.2.0", "--override-gates", " "
    )
    assert empty.exit_code == EXIT_USAGE and "--override-gates needs a reason" in empty.stderr

    done = cli(
        run_cli,
        config,
        repo,
        "bump",
        "production",
        "--app",
        "api",
        "--tag",
        "1.2.0",
        "--no-verify-image",
        "--override-gates",
        "INC-42: hotfix approved by ops",
    )
    assert done.exit_code == 0, done.output
    text = message(repo, "production")
    assert "Promoter-Override: INC-42: hotfix approved by ops" in text
    assert "Gates overridden (INC-42: hotfix approved by ops): production is frozen: year-end freeze" in text
    assert "Promoter-Versions: api=1.2.0" in text
    assert "Gates overridden (INC-42" in done.output


def test_a_window_that_is_not_now_lets_changes_through(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    later = datetime.now(UTC) + timedelta(days=3)
    freeze = f'    freeze: [{{from: "{later.isoformat()}", until: "{(later + timedelta(days=1)).isoformat()}", reason: later}}]'
    config = write_config(tmp_path, production=freeze)
    done = cli(
        run_cli, config, repo, "bump", "production", "--app", "api", "--tag", "1.2.0", "--no-verify-image"
    )
    assert done.exit_code == 0, done.output


# -- holds, rollback, release ---------------------------------------------------------------------------
def test_rollback_holds_until_release_end_to_end(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bump = ("bump", "staging", "--app", "api", "--no-verify-image", "--tag")
    assert cli(run_cli, config, repo, *bump, "1.2.0").exit_code == 0
    assert cli(run_cli, config, repo, *bump, "1.3.0").exit_code == 0

    rolled = cli(run_cli, config, repo, "rollback", "staging", "--app", "api", "--reason", "checkout errors")
    assert rolled.exit_code == 0, rolled.output
    assert 'tag: "1.2.0"' in remote_text(repo, "staging", "values.yaml")
    holds = remote_text(repo, "staging", ".promoter/holds.yaml")
    assert 'reason: "rolled back from 1.3.0 to 1.2.0: checkout errors"' in holds
    text = message(repo, "staging")
    assert text.startswith("rollback api in staging: 1.3.0 -> 1.2.0")
    assert "Promoter-Rollback: api 1.3.0 -> 1.2.0" in text and "Promoter-Hold: api" in text
    assert "Promoter-Pipeline" not in text  # a rollback is not a build the downgrade guard compares
    git_files = git("show", "--name-only", "--format=", "staging", cwd=repo).split()
    assert sorted(git_files) == [".promoter/holds.yaml", "values.yaml"]  # one commit: version and hold

    refused = cli(run_cli, config, repo, *bump, "1.4.0")
    assert refused.exit_code == EXIT_REFUSED, refused.output
    assert "api is held in staging: held by" in refused.stderr
    assert "rolled back from 1.3.0 to 1.2.0: checkout errors" in refused.stderr
    assert 'tag: "1.2.0"' in remote_text(repo, "staging", "values.yaml")

    status = cli(run_cli, config, repo, "-o", "json", "status")
    data = json.loads(status.stdout)
    assert (
        data["apps"]["api"]["staging"]["hold"]["reason"] == "rolled back from 1.3.0 to 1.2.0: checkout errors"
    )
    assert data["apps"]["worker"]["staging"]["hold"] is None
    table = cli(run_cli, config, repo, "status").stdout
    assert "1.2.0 (held)" in table and "held: api in staging, held by" in table

    again = cli(run_cli, config, repo, "rollback", "staging", "--app", "api")  # 1.2.0 -> 1.1.0, hold kept
    assert again.exit_code == 0, again.output
    assert 'tag: "1.1.0"' in remote_text(repo, "staging", "values.yaml")

    released = cli(run_cli, config, repo, "release", "staging", "--app", "api")
    assert released.exit_code == 0, released.output
    assert "released in staging" in released.stdout
    assert "Promoter-Release: api" in message(repo, "staging")
    assert git("ls-tree", "--name-only", "staging", cwd=repo).split() == ["values.yaml"]  # no empty file left
    twice = cli(run_cli, config, repo, "release", "staging", "--app", "api")
    assert twice.exit_code == 0 and "api is not held in staging" in twice.stdout
    assert cli(run_cli, config, repo, *bump, "1.4.0").exit_code == 0

    history = json.loads(
        cli(run_cli, config, repo, "-o", "json", "history", "staging", "--app", "api").stdout
    )
    assert [(c["version"], c["rollback"]) for c in history["changes"]] == [
        ("1.4.0", None),
        ("1.1.0", "api 1.2.0 -> 1.1.0"),
        ("1.2.0", "api 1.3.0 -> 1.2.0"),
        ("1.3.0", None),
        ("1.2.0", None),
        ("1.1.0", None),
        ("1.0.0", None),
    ]
    assert history["complete"] is True
    assert [c["source"] for c in history["changes"]][-2:] == ["files", "files"]  # people's commits


def test_rollback_to_a_tag_that_never_ran_needs_force(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    never = cli(run_cli, config, repo, "rollback", "production", "--app", "api", "--to", "0.9.0")
    assert never.exit_code == EXIT_REFUSED and "api 0.9.0 never ran in production" in never.stderr
    nothing = cli(run_cli, config, repo, "rollback", "production", "--app", "api")
    assert nothing.exit_code == EXIT_REFUSED and "no earlier version of api in production" in nothing.stderr
    forced = cli(
        run_cli,
        config,
        repo,
        "rollback",
        "production",
        "--app",
        "api",
        "--to",
        "0.9.0",
        "--force",
        "--no-verify-image",
    )
    assert forced.exit_code == 0, forced.output
    assert 'tag: "0.9.0"' in remote_text(repo, "production", "values.yaml")


def test_a_hold_is_a_commit_with_who_when_why_and_bump_respects_it(
    run_cli: Any, repo: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    ci = {"GITLAB_CI": "true", "GITLAB_USER_LOGIN": "alice", "CI_PIPELINE_URL": "https://ci.example.com/p/9"}
    held = cli(
        run_cli,
        config,
        repo,
        "-o",
        "json",
        "hold",
        "production",
        "--app",
        "worker",
        "--reason",
        "memory leak",
        env=ci,
    )
    assert held.exit_code == 0, held.output
    data = json.loads(held.stdout)
    assert data["hold"]["by"] == "alice (https://ci.example.com/p/9)" and data["result"] == "changed"
    holds = remote_text(repo, "production", ".promoter/holds.yaml")
    assert '  worker:\n    reason: "memory leak"\n    by: "alice (https://ci.example.com/p/9)"\n' in holds
    text = message(repo, "production")
    assert "Promoter-Hold: worker" in text and "Promoter-Actor: alice" in text
    assert "Promoter-Run: https://ci.example.com/p/9" in text
    assert "Promoter-App" not in text  # a hold records no deploy: the downgrade guard looks past it

    same = cli(run_cli, config, repo, "hold", "production", "--app", "worker", "--reason", "memory leak")
    assert same.exit_code == 0 and "unchanged" in same.stdout
    dry = cli(run_cli, config, repo, "hold", "production", "--app", "api", "--reason", "x", "--dry-run")
    assert dry.exit_code == 0 and "+  api:" in dry.stdout
    assert "api" not in remote_text(repo, "production", ".promoter/holds.yaml")

    refused = cli(
        run_cli,
        config,
        repo,
        "bump",
        "production",
        "--image",
        "registry.example.com/acme/worker:2.2.0",
        "--no-verify-image",
    )
    assert refused.exit_code == EXIT_REFUSED and "worker is held in production" in refused.stderr
    passed = cli(
        run_cli,
        config,
        repo,
        "bump",
        "production",
        "--app",
        "worker",
        "--tag",
        "2.2.0",
        "--no-verify-image",
        "--override-gates",
        "fix for the leak",
    )
    assert passed.exit_code == 0, passed.output
    assert "Gates overridden (fix for the leak): worker is held in production" in message(repo, "production")


def test_promote_skips_a_held_app_and_refuses_it_by_name(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert (
        cli(run_cli, config, repo, "hold", "production", "--app", "worker", "--reason", "leak").exit_code == 0
    )
    named = cli(run_cli, config, repo, "promote", "staging", "production", "--app", "worker")
    assert named.exit_code == EXIT_REFUSED and "worker is held in production" in named.stderr

    done = cli(run_cli, config, repo, "-o", "json", "promote", "staging", "production")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert [a["app"] for a in data["apps"]] == ["api"]
    assert [(s["app"], s["gate"]) for s in data["skipped"]] == [("worker", "hold")]
    text = remote_text(repo, "production", "values.yaml")
    assert 'tag: "1.1.0"' in text and "worker:2.0.0" in text
    body = message(repo, "production")
    assert "Not promoted: worker is held in production" in body
    assert "Promoter-Versions: api=1.1.0" in body and "Promoter-Promoted-From: staging" in body

    text_out = cli(run_cli, config, repo, "promote", "staging", "production")  # nothing else left: refused
    assert text_out.exit_code == EXIT_REFUSED, text_out.output
    assert (
        "worker is held in production" in text_out.stderr
        and "nothing else was left to promote" in text_out.stderr
    )


# -- soak -----------------------------------------------------------------------------------------------
def test_soak_promotes_what_soaked_and_lists_the_rest_with_time_left(
    run_cli: Any, repo: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path, promotion="    soak: 1h")
    now = datetime.now(UTC)
    fresh = commit_at(
        repo,
        "staging",
        {"values.yaml": VALUES.format(api="1.1.0", worker="2.2.0")},
        "worker: staging -> 2.2.0\n\nPromoter-App: worker\nPromoter-Env: staging\n"
        "Promoter-Versions: worker=2.2.0\n",
        now - timedelta(minutes=12),
    )
    dry = cli(run_cli, config, repo, "promote", "staging", "production", "--dry-run")
    assert dry.exit_code == 0, dry.output
    eligible = (now - timedelta(minutes=12) + timedelta(hours=1)).strftime("%H:%M UTC")
    expected = f"worker 2.2.0 has been in staging for 12m, soak is 1h: eligible at {eligible} (counted from commit {fresh[:12]})"
    assert f"skipped worker: {expected}" in dry.stdout

    done = cli(run_cli, config, repo, "-o", "json", "promote", "staging", "production")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert [a["app"] for a in data["apps"]] == ["api"]
    assert data["skipped"][0]["gate"] == "soak" and data["skipped"][0]["message"] == expected
    assert "worker:2.0.0" in remote_text(repo, "production", "values.yaml")

    named = cli(run_cli, config, repo, "promote", "staging", "production", "--app", "worker")
    assert named.exit_code == EXIT_REFUSED and expected in named.stderr
    nothing = cli(run_cli, config, repo, "promote", "staging", "production")
    assert nothing.exit_code == EXIT_REFUSED and expected in nothing.stderr

    forced = cli(
        run_cli, config, repo, "promote", "staging", "production", "--override-gates", "customer waiting"
    )
    assert forced.exit_code == 0, forced.output
    assert "worker:2.2.0" in remote_text(repo, "production", "values.yaml")
    body = message(repo, "production")
    assert (
        "Promoter-Override: customer waiting" in body
        and f"Gates overridden (customer waiting): {expected}" in body
    )


def test_soak_counts_from_the_health_report_when_the_source_reports_it(
    run_cli: Any, repo: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        forge=GITLAB,
        staging="    deploy: {commit-status: {contexts: [flux/apps]}}",
        promotion="    soak: 1h",
    )
    now = datetime.now(UTC)
    set_at = now - timedelta(hours=3)
    commit = commit_at(
        repo,
        "staging",
        {"values.yaml": VALUES.format(api="1.5.0", worker="2.1.0")},
        "api: staging -> 1.5.0\n\nPromoter-App: api\nPromoter-Env: staging\nPromoter-Versions: api=1.5.0\n",
        set_at,
    )
    healthy = (now - timedelta(minutes=20)).replace(microsecond=0)
    status = {
        "id": 93,
        "sha": commit,
        "ref": "staging",
        "status": "success",
        "name": "flux/apps",
        "target_url": None,
        "description": "Reconciliation finished",
        "created_at": set_at.isoformat().replace("+00:00", "Z"),
        "started_at": set_at.isoformat().replace("+00:00", "Z"),
        "finished_at": healthy.isoformat().replace("+00:00", "Z"),
        "allow_failure": False,
        "author": {"username": "flux", "id": 3},
    }
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(f"{GL}/merge_requests", json=[])  # the pending-request gate of promote
        api.get(f"{GL}/repository/commits/{commit}/statuses", json=[status])
        refused = cli(
            run_cli,
            config,
            repo,
            "promote",
            "staging",
            "production",
            "--app",
            "api",
            env={"PROMOTER_TOKEN": TOKEN},
        )
        paths = [urlsplit(call.request.url).path for call in api.calls]
    assert refused.exit_code == EXIT_REFUSED, refused.output
    eligible = (healthy + timedelta(hours=1)).strftime("%H:%M UTC")
    assert (
        f"api 1.5.0 has been in staging for 20m, soak is 1h: eligible at {eligible} "
        "(counted from when it was reported healthy (flux/apps))"
    ) in refused.stderr
    assert paths[-1].endswith(f"/repository/commits/{commit}/statuses")


# -- required checks ------------------------------------------------------------------------------------
def test_required_checks_on_the_source_commit(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, forge=GITLAB, promotion="    checks: [ci/e2e, ci/smoke]")
    sha = head(repo, "staging")

    def statuses(**states: str) -> list[dict[str, Any]]:
        return [
            {
                "id": n,
                "sha": sha,
                "ref": "staging",
                "status": state,
                "name": name.replace("_", "/"),
                "target_url": None,
                "description": f"{name} {state}",
                "created_at": "2026-12-01T10:00:00.000Z",
                "allow_failure": False,
                "author": {"username": "ci", "id": 3},
            }
            for n, (name, state) in enumerate(states.items())
        ]

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(f"{GL}/merge_requests", json=[])
        api.get(f"{GL}/repository/commits/{sha}/statuses", json=statuses(ci_e2e="failed"))
        refused = cli(
            run_cli, config, repo, "promote", "staging", "production", env={"PROMOTER_TOKEN": TOKEN}
        )
    assert refused.exit_code == EXIT_REFUSED, refused.output
    assert (
        f"required checks on staging ({sha[:12]}) have not succeeded: ci/e2e: failed (ci_e2e failed), ci/smoke: missing"
        in refused.stderr
    )
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(f"{GL}/merge_requests", json=[])
        api.get(
            f"{GL}/repository/commits/{sha}/statuses", json=statuses(ci_e2e="success", ci_smoke="success")
        )
        done = cli(run_cli, config, repo, "promote", "staging", "production", env={"PROMOTER_TOKEN": TOKEN})
    assert done.exit_code == 0, done.output
    assert 'tag: "1.1.0"' in remote_text(repo, "production", "values.yaml")

    no_forge = write_config(tmp_path, promotion="    checks: [ci/e2e]")
    refused = cli(run_cli, no_forge, repo, "promote", "staging", "production")
    assert refused.exit_code == EXIT_USAGE and "no forge to ask" in refused.stderr


def test_required_checks_read_github_check_runs(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, forge="{type: github, project: acme/environments}", promotion="    checks: [e2e]"
    )
    sha = head(repo, "staging")
    gh = "https://api.github.com:443/repos/acme/environments"
    run = {
        "id": 4,
        "head_sha": sha,
        "node_id": "CR_4",
        "external_id": "",
        "url": f"{gh}/check-runs/4",
        "html_url": "https://github.com/acme/environments/runs/4",
        "details_url": "https://github.com/acme/environments/actions/runs/4",
        "status": "completed",
        "conclusion": "success",
        "started_at": "2026-12-01T10:00:00Z",
        "completed_at": "2026-12-01T10:07:00Z",
        "output": {"title": "e2e", "summary": "ok", "text": None, "annotations_count": 0},
        "name": "e2e",
        "check_suite": {"id": 5},
        "app": {"id": 15368, "slug": "github-actions"},
        "pull_requests": [],
    }
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(f"{gh}/pulls", json=[])
        api.get(
            f"{gh}/commits/{sha}/status",
            json={"state": "pending", "sha": sha, "total_count": 0, "statuses": []},
        )
        api.get(f"{gh}/commits/{sha}/check-runs", json={"total_count": 1, "check_runs": [run]})
        done = cli(
            run_cli,
            config,
            repo,
            "promote",
            "staging",
            "production",
            env={"GITHUB_TOKEN": "ghp_gatesTEST0000"},
        )
    assert done.exit_code == 0, done.output


# -- history output -------------------------------------------------------------------------------------
def test_history_table_markdown_and_json(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    ci = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "77",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_ACTOR": "bob",
    }
    assert (
        cli(
            run_cli,
            config,
            repo,
            "bump",
            "staging",
            "--app",
            "api",
            "--tag",
            "1.2.0",
            "--no-verify-image",
            env=ci,
        ).exit_code
        == 0
    )
    assert cli(run_cli, config, repo, "promote", "staging", "production", "--app", "api").exit_code == 0
    table = cli(run_cli, config, repo, "history", "production", "--limit", "1")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["WHEN", "(UTC)", "APP", "VERSION", "BY", "FROM", "COMMIT", "NOTES"]
    assert lines[1].split()[2:6] == ["api", "1.2.0", "Test", "Author"] or "api  1.2.0" in lines[1]
    assert "staging" in lines[1] and lines[-1] == "(the newest 1; --limit 0 shows all)"
    staged = json.loads(cli(run_cli, config, repo, "-o", "json", "history", "staging").stdout)
    first = staged["changes"][0]
    assert (first["app"], first["version"], first["by"], first["source"]) == (
        "api",
        "1.2.0",
        "bob",
        "trailers",
    )
    assert first["pipeline"] == "https://github.com/acme/api/actions/runs/77"
    markdown = cli(run_cli, config, repo, "history", "staging", "--app", "api", "--format", "markdown").stdout
    assert "| when (UTC) | app | version | by | promoted from | commit | notes |" in markdown
    assert "[bob](https://github.com/acme/api/actions/runs/77)" in markdown
    unknown = cli(run_cli, config, repo, "history", "staging", "--app", "nope")
    assert unknown.exit_code == EXIT_USAGE


def test_rollback_in_an_approval_environment_opens_a_request_with_the_hold(
    run_cli: Any, repo: Path, tmp_path: Path
) -> None:
    from tests.unit.forge.payloads import gitlab_mr

    config = write_config(tmp_path, forge=GITLAB, production="    approval: true")
    commit_at(
        repo,
        "production",
        {"values.yaml": VALUES.format(api="1.1.0", worker="2.0.0")},
        "merged api 1.1.0",
        datetime.now(UTC) - timedelta(hours=1),
    )
    before = head(repo, "production")
    branch = "promoter/production/rollback-api"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(f"{GL}/merge_requests", json=[])
        api.post(f"{GL}/merge_requests", status=201, json=gitlab_mr(31, source=branch, target="production"))
        done = cli(
            run_cli,
            config,
            repo,
            "-o",
            "json",
            "rollback",
            "production",
            "--app",
            "api",
            env={"PROMOTER_TOKEN": TOKEN},
        )
        created = json.loads(api.calls[1].request.body)
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert (data["result"], data["from"], data["to"]) == ("mr", "1.1.0", "1.0.0")
    assert head(repo, "production") == before  # never pushed to an approval environment
    assert 'tag: "1.0.0"' in remote_text(repo, branch, "values.yaml")
    assert "api:" in remote_text(repo, branch, ".promoter/holds.yaml")
    assert (
        created["source_branch"] == branch
        and created["title"] == "rollback api in production: 1.1.0 -> 1.0.0"
    )
    description = created["description"]
    assert "| api | `1.1.0` | `1.0.0` |" in description
    assert "Rolls api back and holds it in production" in description.replace("\\", "")
