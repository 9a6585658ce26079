"""CI context detection (GitLab, GitHub, local) and CI outputs (dotenv, $GITHUB_OUTPUT, step summary)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promoter import ci, masking
from promoter.ci import CiContext, detect, github_output_name, standard_outputs, write_outputs
from promoter.errors import InputError

SHA = "0123456789abcdef0123456789abcdef01234567"
HEAD_SHA = "fedcba9876543210fedcba9876543210fedcba98"
HOSTILE_TITLE = 'Fix: "quotes"\n${{ github.token }}\nPROMOTER_RESULT=changed\n$(rm -rf /) `id` ghadelimiter_x'

GITLAB_BASE = {
    "CI": "true",
    "GITLAB_CI": "true",
    "CI_PROJECT_URL": "https://gitlab.example.com/acme/api",
    "CI_PROJECT_PATH": "acme/api",
    "CI_SERVER_URL": "https://gitlab.example.com",
    "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
    "CI_COMMIT_SHA": SHA,
    "CI_COMMIT_REF_NAME": "main",
    "CI_DEFAULT_BRANCH": "main",
    "CI_PIPELINE_ID": "4242",
    "CI_PIPELINE_URL": "https://gitlab.example.com/acme/api/-/pipelines/4242",
    "CI_JOB_URL": "https://gitlab.example.com/acme/api/-/jobs/99",
    "GITLAB_USER_LOGIN": "alice",
}


def test_gitlab_push_pipeline() -> None:
    assert detect(GITLAB_BASE) == CiContext(
        system="gitlab",
        source_repo="https://gitlab.example.com/acme/api",
        commit=SHA,
        pipeline_id=4242,
        pipeline_url="https://gitlab.example.com/acme/api/-/pipelines/4242",
        job_url="https://gitlab.example.com/acme/api/-/jobs/99",
        ref="main",
        default_branch="main",
        actor="alice",
        server_url="https://gitlab.example.com",
        project="acme/api",
        api_url="https://gitlab.example.com/api/v4",
    )


def test_gitlab_merge_request_pipeline() -> None:
    env = {
        **GITLAB_BASE,
        "CI_COMMIT_REF_NAME": "feature/login",
        "CI_MERGE_REQUEST_IID": "17",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login",
        "CI_MERGE_REQUEST_TITLE": HOSTILE_TITLE,
        "CI_MERGE_REQUEST_PROJECT_URL": "https://gitlab.example.com/acme/api",
    }
    context = detect(env)
    assert context.is_request
    assert (context.request_id, context.request_source_branch, context.ref) == (
        17,
        "feature/login",
        "feature/login",
    )
    assert context.request_title == HOSTILE_TITLE  # kept verbatim, as data
    assert context.request_author == "alice"
    assert context.request_url == "https://gitlab.example.com/acme/api/-/merge_requests/17"
    assert context.commit == SHA and context.pipeline_id == 4242


def test_github_push() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_SHA": SHA,
        "GITHUB_RUN_ID": "9876543210",
        "GITHUB_RUN_NUMBER": "12",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_EVENT_NAME": "push",
    }
    assert detect(env) == CiContext(
        system="github",
        source_repo="https://github.com/acme/api",
        commit=SHA,
        pipeline_id=9876543210,
        pipeline_url="https://github.com/acme/api/actions/runs/9876543210",
        ref="main",
        actor="octocat",
        server_url="https://github.com",
        project="acme/api",
        api_url="https://api.github.com",
    )


def test_github_enterprise_defaults_and_tags() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://ghe.example.com/",
        "GITHUB_API_URL": "https://ghe.example.com/api/v3",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_REF": "refs/tags/v1.2.3",
    }
    context = detect(env)
    assert context.source_repo == "https://ghe.example.com/acme/api"
    assert context.api_url == "https://ghe.example.com/api/v3"
    assert context.ref == "v1.2.3"
    assert detect({"GITHUB_ACTIONS": "true"}).api_url == "https://api.github.com"


def _pull_request_event(tmp_path: Path, title: str = HOSTILE_TITLE) -> Path:
    payload = {
        "action": "synchronize",
        "number": 5,
        "pull_request": {
            "number": 5,
            "title": title,
            "html_url": "https://github.com/acme/api/pull/5",
            "state": "open",
            "user": {"login": "mallory", "id": 1},
            "head": {"ref": "feature/x;$(id)", "sha": HEAD_SHA, "repo": {"full_name": "acme/api"}},
            "base": {"ref": "main", "sha": SHA},
        },
        "repository": {"full_name": "acme/api", "default_branch": "main"},
        "sender": {"login": "mallory"},
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_github_pull_request_event_file(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_SHA": SHA,  # the test merge commit
        "GITHUB_RUN_ID": "77",
        "GITHUB_REF": "refs/pull/5/merge",
        "GITHUB_REF_NAME": "5/merge",
        "GITHUB_HEAD_REF": "feature/x;$(id)",
        "GITHUB_ACTOR": "mallory",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(_pull_request_event(tmp_path)),
    }
    context = detect(env)
    assert context.request_id == 5
    assert context.commit == HEAD_SHA  # what the developer pushed, not the merge commit
    assert context.ref == context.request_source_branch == "feature/x;$(id)"
    assert context.request_title == HOSTILE_TITLE
    assert context.request_author == "mallory"
    assert context.request_url == "https://github.com/acme/api/pull/5"
    assert context.default_branch == "main"
    assert context.trailers() == {
        "Promoter-Source": f"https://github.com/acme/api@{HEAD_SHA}",
        "Promoter-Pipeline": "77 https://github.com/acme/api/actions/runs/77",
    }


@pytest.mark.parametrize(
    "content", ["{not json", "[1, 2]", '{"pull_request": "x"}', '{"pull_request": {"head": 3}}']
)
def test_github_unusable_event_file_is_ignored(tmp_path: Path, content: str) -> None:
    path = tmp_path / "event.json"
    path.write_text(content)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(path)}
    context = detect(env)
    assert context.system == "github" and context.request_id is None and context.request_title is None


def test_github_missing_event_file_is_ignored(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(tmp_path / "x"),
    }
    assert detect(env).request_id is None


def test_local_run() -> None:
    context = detect({})
    assert context == CiContext(system="local")
    assert not context.in_ci and not context.is_request
    assert context.trailers() == {}


def test_detect_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PIPELINE_ID", "5")
    assert detect().pipeline_id == 5


def test_overrides_for_other_ci_systems() -> None:
    env = {
        **GITLAB_BASE,
        "PROMOTER_SOURCE_REPO": "https://git.example.com/acme/api",
        "PROMOTER_SOURCE_COMMIT": HEAD_SHA,
        "PROMOTER_PIPELINE_ID": "31",
    }
    context = detect(env)
    assert (context.source_repo, context.commit, context.pipeline_id) == (
        "https://git.example.com/acme/api",
        HEAD_SHA,
        31,
    )
    assert context.pipeline_url is None  # the GitLab URL belongs to another pipeline id
    assert detect({"PROMOTER_PIPELINE_ID": "8"}).trailers() == {"Promoter-Pipeline": "8"}


def test_non_numeric_ids_are_ignored() -> None:
    context = detect({**GITLAB_BASE, "CI_PIPELINE_ID": "12a", "CI_MERGE_REQUEST_IID": "٣"})
    assert context.pipeline_id is None and context.request_id is None


def test_trailers_are_single_lines() -> None:
    context = CiContext(source_repo="https://x.example/a\nInjected: yes", commit=SHA, pipeline_id=3)
    assert context.trailers() == {
        "Promoter-Source": f"https://x.example/a Injected: yes@{SHA}",
        "Promoter-Pipeline": "3",
    }
    assert CiContext(commit=SHA).trailers() == {"Promoter-Source": SHA}


# --- outputs ----------------------------------------------------------------------------------------------
def _parse_github_file(text: str) -> dict[str, str]:
    """Read a $GITHUB_OUTPUT file the way the Actions runner does (name=value and name<<DELIMITER blocks)."""
    lines = text.split("\n")
    assert lines[-1] == ""
    result: dict[str, str] = {}
    index = 0
    while index < len(lines) - 1:
        line = lines[index]
        equals, heredoc = line.find("="), line.find("<<")
        if equals != -1 and (heredoc == -1 or equals < heredoc):
            result[line[:equals]] = line[equals + 1 :]
            index += 1
            continue
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        end = lines.index(delimiter, index + 1)
        result[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    return result


def test_standard_outputs_always_has_the_four_keys() -> None:
    assert standard_outputs("unchanged") == {
        "PROMOTER_RESULT": "unchanged",
        "PROMOTER_COMMIT": "",
        "PROMOTER_MR_URL": "",
        "PROMOTER_ENV_URL": "",
    }
    assert [github_output_name(k) for k in ci.OUTPUT_KEYS] == ["result", "commit", "mr-url", "env-url"]


def test_gitlab_dotenv_written_exactly(tmp_path: Path) -> None:
    dotenv = tmp_path / "promoter.env"
    outputs = standard_outputs("changed", commit=SHA, env_url="https://staging.example.com")
    write_outputs(outputs, summary_markdown="# ignored on GitLab", environ={"PROMOTER_DOTENV": str(dotenv)})
    assert dotenv.read_text() == (
        f"PROMOTER_RESULT=changed\nPROMOTER_COMMIT={SHA}\nPROMOTER_MR_URL=\n"
        "PROMOTER_ENV_URL=https://staging.example.com\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["promoter.env"]  # no temp file left behind


def test_gitlab_dotenv_second_call_replaces_keys_and_keeps_others(tmp_path: Path) -> None:
    dotenv = tmp_path / "promoter.env"
    dotenv.write_text("OTHER=1\n\nPROMOTER_RESULT=unchanged\n")
    write_outputs({"PROMOTER_RESULT": "mr", "PROMOTER_MR_URL": "https://x/-/merge_requests/3"},
                  environ={"PROMOTER_DOTENV": str(dotenv)})  # fmt: skip
    assert dotenv.read_text() == "OTHER=1\nPROMOTER_RESULT=mr\nPROMOTER_MR_URL=https://x/-/merge_requests/3\n"


def test_gitlab_dotenv_refuses_line_breaks_and_changes_nothing(tmp_path: Path) -> None:
    dotenv = tmp_path / "promoter.env"
    dotenv.write_text("PROMOTER_RESULT=unchanged\n")
    for value in (HOSTILE_TITLE, "a\rb"):
        with pytest.raises(InputError) as caught:
            write_outputs({"PROMOTER_TITLE": value}, environ={"PROMOTER_DOTENV": str(dotenv)})
        assert caught.value.exit_code == 3
    assert dotenv.read_text() == "PROMOTER_RESULT=unchanged\n"


def test_gitlab_dotenv_size_limit(tmp_path: Path) -> None:
    dotenv = tmp_path / "promoter.env"
    with pytest.raises(InputError, match="at most 5120"):
        write_outputs({"PROMOTER_BIG": "x" * 6000}, environ={"PROMOTER_DOTENV": str(dotenv)})
    assert not dotenv.exists()


def test_github_output_and_summary_written_exactly(tmp_path: Path) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.write_text("earlier=1\n")
    env = {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    write_outputs(
        standard_outputs("changed", commit=SHA), summary_markdown="## promoter\n| a | b |", environ=env
    )
    assert output.read_text() == (f"earlier=1\nresult=changed\ncommit={SHA}\nmr-url=\nenv-url=\n")
    assert summary.read_text() == "## promoter\n| a | b |\n"
    write_outputs({}, summary_markdown="more\n", environ=env)
    assert summary.read_text() == "## promoter\n| a | b |\nmore\n"


def test_hostile_multiline_value_stays_data_in_github_output(tmp_path: Path) -> None:
    output = tmp_path / "output"
    write_outputs(
        {"PROMOTER_TITLE": HOSTILE_TITLE, "PROMOTER_RESULT": "mr"}, environ={"GITHUB_OUTPUT": str(output)}
    )
    text = output.read_text()
    assert _parse_github_file(text) == {"title": HOSTILE_TITLE, "result": "mr"}
    assert "\nPROMOTER_RESULT=changed\n" in text  # present only inside the heredoc body, read back as data


def test_github_output_delimiter_never_collides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The value contains the first two delimiters the generator will offer; the writer must skip both.
    offered = iter(["ghadelimiter_aaa", "ghadelimiter_bbb", "ghadelimiter_ccc", "ghadelimiter_ddd"])
    monkeypatch.setattr(ci, "_delimiter", lambda: next(offered))
    value = "line one\nghadelimiter_aaa\nghadelimiter_bbb\nend"
    output = tmp_path / "output"
    write_outputs({"PROMOTER_NOTE": value}, environ={"GITHUB_OUTPUT": str(output)})
    text = output.read_text()
    assert text.startswith("note<<ghadelimiter_ccc\n")
    assert _parse_github_file(text) == {"note": value}


def test_real_delimiters_are_random(tmp_path: Path) -> None:
    output = tmp_path / "output"
    write_outputs({"A": "x\ny", "B": "x\ny"}, environ={"GITHUB_OUTPUT": str(output)})
    headers = [line for line in output.read_text().splitlines() if "<<" in line]
    delimiters = {line.split("<<", 1)[1] for line in headers}
    assert len(headers) == 2 and len(delimiters) == 2
    assert all(len(d) >= len("ghadelimiter_") + 32 for d in delimiters)


def test_outputs_are_masked(tmp_path: Path) -> None:
    masking.register_secret("glpat-SECRETSECRET")
    dotenv, output = tmp_path / "d.env", tmp_path / "out"
    env = {"PROMOTER_DOTENV": str(dotenv), "GITHUB_OUTPUT": str(output)}
    write_outputs({"PROMOTER_MR_URL": "https://oauth2:glpat-SECRETSECRET@x/y"}, environ=env)
    assert "SECRET" not in dotenv.read_text() + output.read_text()
    assert dotenv.read_text() == "PROMOTER_MR_URL=https://***@x/y\n"  # the whole user part of a URL


def test_no_output_files_configured_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_outputs(standard_outputs("changed"), summary_markdown="x", environ={})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["", "A-B", "1A", "A B", "A=B", "A\nB"])
def test_bad_output_names_are_refused(key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_outputs({key: "v"}, environ={"GITHUB_OUTPUT": str(tmp_path / "o")})
    assert not (tmp_path / "o").exists()
