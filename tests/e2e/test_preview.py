"""`promoter preview up|down|list|gc` end to end: real bare repositories, the forges via `responses`."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from promoter.templating import PreviewContext, load_documents, preview_annotations, render_preview
from tests.support.gitrepos import git, make_remote, remote_text
from tests.unit.forge.payloads import github_pr, gitlab_mr

BRANCH = "dynamic-envs"
TOKEN = "glpat-preview-test-token-1"
GITLAB = "https://gitlab.example.com"
MRS = f"{GITLAB}/api/v4/projects/acme%2Fapi/merge_requests"
GHE_ROOT = "https://ghe.example.com:443"  # PyGithub spells the default port out
PULLS = f"{GHE_ROOT}/api/v3/repos/acme/api/pulls"
GRAPHQL = f"{GHE_ROOT}/api/graphql"

CONFIG = """\
version: 1
forge: {{type: {forge}, url: "{url}", project: acme/environments}}
environments: {{staging: {{branch: staging}}}}
apps:
  api: {{image: registry.example.com/acme/api, files: [{{file: values.yaml}}]}}
previews:
  template: manifests
  ttl: 7d
  values: {{domain: preview.example.com}}
"""


class Env:
    """An env repo (bare, on disk) and the promoter.yaml that points at it."""

    def __init__(self, tmp_path: Path, forge: str = "gitlab", url: str = GITLAB) -> None:
        self.tmp = tmp_path
        self.remote = make_remote(tmp_path, {"README.md": "env repo\n"})
        self.config = tmp_path / "promoter.yaml"
        self.config.write_text(CONFIG.format(forge=forge, url=url))

    def args(self, *rest: str) -> list[str]:
        return ["--config", str(self.config), "--repo", str(self.remote), *rest]

    def files(self) -> list[str]:
        if not git("ls-remote", "--heads", str(self.remote), BRANCH, cwd=self.tmp):
            return []
        out = git("ls-tree", "-r", "--name-only", BRANCH, cwd=self.remote)
        return sorted(line for line in out.splitlines() if line.startswith("apps/"))

    def text(self, path: str) -> str:
        return remote_text(self.remote, BRANCH, path)

    def commits(self) -> list[str]:
        status = subprocess.run(
            ["git", "rev-list", BRANCH], cwd=self.remote, capture_output=True, text=True, check=False
        )
        return status.stdout.split()

    def seed(self, files: dict[str, str], message: str = "seed previews") -> None:
        """Commit files to the previews branch as a person (or another tool) would."""
        work = self.tmp / "seed-work"
        if not work.exists():
            git("clone", "-q", str(self.remote), str(work), cwd=self.tmp)
        git("fetch", "-q", "origin", cwd=work)
        exists = bool(git("ls-remote", "--heads", "origin", BRANCH, cwd=work))
        git("checkout", "-q", "-B", BRANCH, f"origin/{BRANCH}" if exists else "origin/main", cwd=work)
        for rel, text in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", message, cwd=work)
        git("push", "-q", "origin", f"HEAD:refs/heads/{BRANCH}", cwd=work)


def rendered(
    request_id: int,
    branch: str,
    *,
    project: str = "acme/api",
    tag: str = "1.0.0",
    expires_in: timedelta = timedelta(days=7),
) -> tuple[str, str]:
    """(path, text) of a preview file as promoter renders it; a negative ``expires_in`` is expired."""
    now = datetime.now(timezone.utc) - timedelta(days=10)
    ctx = PreviewContext.create(
        id=request_id,
        branch=branch,
        tag=tag,
        image="registry.example.com/acme/api",
        project=project,
        ttl=timedelta(days=10) + expires_in,
        now=now,
    )
    return f"apps/{ctx.slug}.yaml", render_preview("manifests", ctx)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


@pytest.fixture
def api() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture(autouse=True)
def no_forge_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries of 5xx answers happen (and are counted) but do not wait."""
    monkeypatch.setattr("promoter.forge._http.BACKOFF", 0.0)


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


# --- up ----------------------------------------------------------------------------------------------
def test_up_in_a_gitlab_merge_request_pipeline_needs_no_flags(run_cli, env: Env, tmp_path: Path) -> None:
    dotenv = tmp_path / "preview.env"
    ci = {
        "GITLAB_CI": "true",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/Login",
        "CI_MERGE_REQUEST_TITLE": "Login: add SSO",
        "GITLAB_USER_LOGIN": "alice",
        "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
        "CI_PROJECT_PATH": "acme/api",
        "CI_PIPELINE_ID": "4711",
        "PROMOTER_DOTENV": str(dotenv),
    }
    main_head = git("rev-parse", "main", cwd=env.remote)

    result = run_cli(*env.args("preview", "up"), env=ci)

    assert result.exit_code == 0, result.output
    [path] = env.files()
    assert path.startswith("apps/feature-login-") and path.endswith(".yaml")
    annotations = preview_annotations(env.text(path))
    assert annotations["promoter.dev/preview-id"] == "7"
    assert annotations["promoter.dev/project"] == "acme/api"
    assert annotations["promoter.dev/source-branch"] == "feature/Login"
    assert annotations["promoter.dev/tag"] == ci["CI_COMMIT_SHA"]  # the tag defaults to the commit
    assert annotations["promoter.dev/author"] == "alice"
    slug = path.removeprefix("apps/").removesuffix(".yaml")
    assert f"namespace: preview-{slug}" in result.output
    assert f"url: https://{slug}.preview.example.com" in result.output
    # the branch was created from the default branch, with one commit carrying the trailers
    assert git("rev-parse", f"{BRANCH}~1", cwd=env.remote) == main_head
    message = git("log", "-1", "--format=%B", BRANCH, cwd=env.remote)
    assert "Promoter-Preview: 7" in message and "Promoter-Project: acme/api" in message
    assert "Promoter-Pipeline: 4711" in message
    outputs = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    assert outputs["PROMOTER_RESULT"] == "changed"
    assert outputs["PROMOTER_COMMIT"] == git("rev-parse", BRANCH, cwd=env.remote)
    assert outputs["PROMOTER_ENV_URL"] == f"https://{slug}.preview.example.com"
    assert outputs["PROMOTER_PREVIEW_NAMESPACE"] == f"preview-{slug}"


def test_up_in_a_github_pull_request_job_reads_the_event(run_cli, env: Env, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    payload = {"action": "synchronize", "number": 31, "pull_request": github_pr(31, repo="acme/api")}
    payload["pull_request"]["head"]["ref"] = "fix-cache"
    payload["pull_request"]["title"] = 'Cache: "fix" it\nplease'
    event.write_text(json.dumps(payload))
    output = tmp_path / "github_output"
    ci = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_SHA": "f" * 40,
        "GITHUB_OUTPUT": str(output),
    }
    result = run_cli(*env.args("preview", "up", "--tag", "pr-31"), env=ci)
    assert result.exit_code == 0, result.output
    assert env.files() == ["apps/fix-cache.yaml"]
    annotations = preview_annotations(env.text("apps/fix-cache.yaml"))
    assert annotations["promoter.dev/preview-id"] == "31"
    assert annotations["promoter.dev/title"] == 'Cache: "fix" it\nplease'
    assert annotations["promoter.dev/commit"] == "6dcb09b5b57875f334f61aebed695e2e4193db5e"  # the head
    assert "env-url=https://fix-cache.preview.example.com\n" in output.read_text()


def test_a_new_push_changes_only_the_tag_and_keeps_manual_edits(run_cli, env: Env) -> None:
    up = ("preview", "up", "--id", "5", "--branch", "feature/x", "--project", "acme/api")
    assert run_cli(*env.args(*up, "--tag", "1.0.0")).exit_code == 0
    [path] = env.files()
    env.seed({path: env.text(path).replace("replicas: 1", "replicas: 3  # scaled by hand") + "\n"})
    before = env.text(path)

    result = run_cli(*env.args(*up, "--tag", "1.1.0"))

    assert result.exit_code == 0, result.output
    after = env.text(path)
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert sorted(b for _, b in changed if "expires-at" not in b) == [
        '          image: "registry.example.com/acme/api:1.1.0"',
        '    promoter.dev/tag: "1.1.0"',
    ]
    assert len(changed) in (2, 3)  # plus the expiry, unless both runs fell in the same second
    assert "replicas: 3  # scaled by hand" in after

    commits = env.commits()
    again = run_cli(*env.args(*up, "--tag", "1.1.0"))
    assert again.exit_code == 0 and "unchanged" in again.output
    assert env.commits() == commits  # idempotent: no commit

    rerender = run_cli(*env.args(*up, "--tag", "1.1.0", "--rerender"))
    assert rerender.exit_code == 0, rerender.output
    assert "replicas: 1" in env.text(path) and "scaled by hand" not in env.text(path)
    assert env.files() == [path]


def test_dry_run_pushes_nothing(run_cli, env: Env) -> None:
    result = run_cli(*env.args("preview", "up", "--id", "3", "--branch", "b", "--tag", "1.0.0", "--dry-run"))
    assert result.exit_code == 0, result.output
    assert "+++ b/apps/b.yaml" in result.output and "dry run: nothing pushed" in result.output
    assert env.files() == []


def test_a_renamed_branch_still_finds_its_preview_and_down_deletes_it(run_cli, env: Env) -> None:
    base = ("--id", "9", "--project", "acme/api", "--tag", "1.0.0")
    assert run_cli(*env.args("preview", "up", "--branch", "old-name", *base)).exit_code == 0
    result = run_cli(*env.args("preview", "up", "--branch", "new-name", "--id", "9", "--tag", "2.0.0",
                               "--project", "acme/api"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert env.files() == ["apps/old-name.yaml"]  # updated in place, not a second environment
    assert preview_annotations(env.text("apps/old-name.yaml"))["promoter.dev/tag"] == "2.0.0"

    down = run_cli(*env.args("preview", "down", "--id", "9", "--project", "acme/api"))
    assert down.exit_code == 0, down.output
    assert "deleted apps/old-name.yaml" in down.output
    assert env.files() == []
    message = git("log", "-1", "--format=%B", BRANCH, cwd=env.remote)
    assert message.startswith("preview down: old-name (request 9)") and "Promoter-Preview: 9" in message

    commits = env.commits()
    again = run_cli(*env.args("-q", "--output", "json", "preview", "down", "--id", "9"))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["result"] == "unchanged"
    assert env.commits() == commits


def test_down_without_a_previews_branch_is_unchanged(run_cli, env: Env) -> None:
    result = run_cli(*env.args("preview", "down", "--id", "1"))
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.output and env.files() == []


def test_down_only_touches_the_named_project(run_cli, env: Env) -> None:
    env.seed(dict([rendered(4, "same", project="acme/api"), rendered(4, "other", project="acme/web")]))
    result = run_cli(*env.args("preview", "down", "--id", "4", "--project", "acme/web"))
    assert result.exit_code == 0, result.output
    assert env.files() == ["apps/same.yaml"]


def test_list_shows_id_branch_tag_age_and_expiry(run_cli, env: Env) -> None:
    env.seed(
        dict(
            [
                rendered(2, "feature/a", tag="1.2.3"),
                rendered(1, "b", tag="9.9.9", expires_in=timedelta(hours=-1)),
            ]
        )
    )
    text = run_cli(*env.args("preview", "list"))
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].split() == ["ID", "PROJECT", "BRANCH", "TAG", "AGE", "EXPIRES", "FILE"]
    assert lines[1].split()[:5] == ["1", "acme/api", "b", "9.9.9", "10d"]
    assert "(expired)" in lines[1] and "(expired)" not in lines[2]
    assert lines[2].split()[:3] == ["2", "acme/api", "feature/a"]

    data = json.loads(run_cli(*env.args("--output", "json", "preview", "list")).stdout)
    first = data["environments"][0]
    assert data["branch"] == BRANCH and [e["id"] for e in data["environments"]] == [1, 2]
    assert first["expired"] is True and first["tag"] == "9.9.9" and first["age_seconds"] >= 10 * 86400


# --- gc ----------------------------------------------------------------------------------------------
def seed_gc(env: Env) -> dict[int, str]:
    files = dict(
        [
            rendered(1, "open-one"),
            rendered(2, "closed-one"),
            rendered(3, "merged-one"),
            rendered(4, "gone-one"),
            rendered(5, "open-but-expired", expires_in=timedelta(minutes=-5)),
        ]
    )
    env.seed(files)
    return {int(preview_annotations(t)["promoter.dev/preview-id"]): p for p, t in files.items()}


def gitlab_states(api: Any, open_ids: list[int], others: list[dict[str, Any]], asked: list[int]) -> None:
    api.get(
        MRS,
        json=[gitlab_mr(n, source=f"b{n}") for n in open_ids],
        match=[responses.matchers.query_param_matcher({"state": "opened", "per_page": "100"})],
    )
    api.get(
        MRS,
        json=others,
        match=[
            responses.matchers.query_param_matcher(
                {"state": "all", "per_page": "100", "iids[]": [str(n) for n in asked]}
            )
        ],
    )


def test_gc_deletes_closed_merged_gone_and_expired_in_one_commit(run_cli, env: Env, api: Any) -> None:
    paths = seed_gc(env)
    gitlab_states(api, [1, 5], [gitlab_mr(2, state="closed"), gitlab_mr(3, state="merged")], asked=[2, 3, 4])
    before = env.commits()

    result = run_cli(*env.args("preview", "gc"), env={"PROMOTER_TOKEN": TOKEN})

    assert result.exit_code == 0, result.output
    assert env.files() == [paths[1]]
    assert len(env.commits()) == len(before) + 1
    message = git("log", "-1", "--format=%B", BRANCH, cwd=env.remote)
    assert message.startswith("preview gc: delete 4 preview environments")
    assert "Promoter-Preview: 2, 3, 4, 5" in message
    for request_id, reason in ((2, "closed"), (3, "merged"), (4, "gone"), (5, "expired")):
        assert f"deleted {paths[request_id]} (request {request_id}: {reason})" in result.output
    assert len(api.calls) == 2  # one listing of open requests, one batched look-up
    assert all(call.request.headers["PRIVATE-TOKEN"] == TOKEN for call in api.calls)
    assert TOKEN not in result.output


def test_gc_with_github_uses_one_listing_and_one_graphql_query(tmp_path: Path, run_cli, api: Any) -> None:
    env = Env(tmp_path, forge="github", url="https://ghe.example.com")
    paths = seed_gc(env)
    api.get(PULLS, json=[github_pr(1, repo="acme/api"), github_pr(5, repo="acme/api")])
    api.post(
        GRAPHQL,
        json={
            "data": {
                "repository": {
                    "pr2": {"number": 2, "state": "CLOSED"},
                    "pr3": {"number": 3, "state": "MERGED"},
                    "pr4": None,
                }
            },
            "errors": [{"type": "NOT_FOUND", "path": ["repository", "pr4"], "message": "Could not resolve"}],
        },
    )
    result = run_cli(*env.args("preview", "gc"), env={"GITHUB_TOKEN": "ghp_previewtoken0123456789"})
    assert result.exit_code == 0, result.output
    assert env.files() == [paths[1]]
    assert json.loads(api.calls[1].request.body)["variables"] == {"owner": "acme", "name": "api"}


def test_gc_fails_closed_on_a_forge_error(run_cli, env: Env, api: Any) -> None:
    seed_gc(env)  # request 5 has even expired: a forge error still keeps every preview of the project
    api.get(MRS, status=500, json={"message": "500 Internal Server Error"})
    before = env.commits()

    result = run_cli(*env.args("preview", "gc"), env={"PROMOTER_TOKEN": TOKEN})

    assert result.exit_code == 1, result.output
    assert env.commits() == before and len(env.files()) == 5
    assert "error: acme/api" in result.output and "(request 5: forge error)" in result.output
    assert len(api.calls) == 4  # the 500 is retried, then given up on


def test_gc_max_delete_refuses_larger_deletions(run_cli, env: Env, api: Any) -> None:
    seed_gc(env)
    for _ in range(2):
        gitlab_states(
            api, [1, 5], [gitlab_mr(2, state="closed"), gitlab_mr(3, state="merged")], asked=[2, 3, 4]
        )
    before = env.commits()
    refused = run_cli(*env.args("preview", "gc", "--max-delete", "3"), env={"PROMOTER_TOKEN": TOKEN})
    assert refused.exit_code == 4, refused.output
    assert "would delete 4 preview environments, more than the limit of 3" in refused.output
    assert env.commits() == before and len(env.files()) == 5

    dry = run_cli(*env.args("preview", "gc", "--max-delete", "4", "--dry-run"), env={"PROMOTER_TOKEN": TOKEN})
    assert dry.exit_code == 0, dry.output
    assert "would delete" in dry.output and "dry run: nothing pushed" in dry.output
    assert env.commits() == before


def test_gc_default_limit_comes_from_the_config(run_cli, env: Env, api: Any) -> None:
    env.seed(dict(rendered(n, f"old-{n}", expires_in=timedelta(days=-1)) for n in range(1, 12)))
    api.get(MRS, json=[gitlab_mr(n, source=f"b{n}") for n in range(1, 12)])  # all open, all expired
    result = run_cli(*env.args("preview", "gc"), env={"PROMOTER_TOKEN": TOKEN})
    assert result.exit_code == 4, result.output
    assert "more than the limit of 10" in result.output and len(env.files()) == 11


# --- hostile branch names ----------------------------------------------------------------------------
HOSTILE = [
    "../../etc/passwd",
    "..",
    ".",
    "/",
    "a/../../b",
    "apps/../../escape",
    "feature/foo",
    "feature-foo",
    "FEATURE-FOO",
    "x\ny: 1",
    "x\r\n---\nkind: Secret",
    "{{ 7*7 }}",
    "{% raw %}",
    "${{ github.token }}",
    "key: value",
    "- item",
    "# comment",
    "'single'",
    '"double"',
    "back\\slash",
    "ünïcödé/ブランチ",
    "🚀-launch",
    "a" * 300,
    "-leading",
    "trailing-",
    "123-numeric",
    "dots.in.name",
    "tab\tname",
    "null",
    "true",
    "~",
    "&anchor",
    "*alias",
    "!!python/object/apply:os.system",
    "%YAML 1.1",
    "@{u}",
    "\u202eevil",
    "zero\u200bwidth",
    "bell\x07",
    "semi;colon|pipe&amp",
]


def check_preview_file(root: Path, rel: str, name: str) -> None:
    assert rel.startswith("apps/") and rel.count("/") == 1 and rel.endswith(".yaml")
    assert (root / rel).resolve().parent == (root / "apps").resolve()
    text = (root / rel).read_text()
    assert preview_annotations(text)["promoter.dev/source-branch"] == name
    assert [doc["kind"] for doc in load_documents(text)] == ["Namespace", "Deployment", "Service"]


def test_hostile_branch_names_never_leave_apps_and_render_valid_yaml(tmp_path: Path) -> None:
    """Every name through the preview edit itself (on a plain directory), so the whole list stays fast."""
    from promoter.templating import load_template
    from promoter.workflows.preview import UpEdit, UpOptions, resolve_up
    from promoter.workflows.session import open_session

    env = Env(tmp_path)
    session = open_session(config_path=str(env.config), repo=str(env.remote))
    root = tmp_path / "worktree"
    root.mkdir()
    template = load_template("manifests")
    paths = set()
    for number, name in enumerate(HOSTILE, 1):
        values = resolve_up(session, UpOptions(id=number, branch=name, tag="1.0.0", project="acme/api"))
        edit = UpEdit(session, values, template, rerender=False)
        changes = edit(root)
        assert changes.paths == [edit.path] and edit.mode == "created"
        check_preview_file(root, edit.path, name)
        paths.add(edit.path)
        again = UpEdit(session, values, template, rerender=False)
        assert not again(root) and again.path == edit.path  # found again by its annotation: unchanged
    assert len(paths) == len(HOSTILE)  # distinct names, distinct files
    assert sorted(p.name for p in (root / "apps").iterdir()) == sorted(Path(p).name for p in paths)
    assert sorted(p.name for p in root.iterdir()) == ["apps"]


def test_hostile_branch_names_end_to_end(tmp_path: Path, run_cli) -> None:
    env = Env(tmp_path)
    names = ["../../etc/passwd", "x\r\n---\nkind: Secret", "{{ 7*7 }}", "ünïcödé/ブランチ", "a" * 300]
    for number, name in enumerate(names, 1):
        args = ("preview", "up", "--id", str(number), "--branch", name, "--tag", "1.0.0")
        result = run_cli(*env.args(*args))
        assert result.exit_code == 0, result.output
    files = env.files()
    assert len(files) == len(names)
    listed = json.loads(run_cli(*env.args("--output", "json", "preview", "list")).stdout)["environments"]
    assert [entry["branch"] for entry in listed] == names
    work = tmp_path / "check"
    git("clone", "-q", "-b", BRANCH, str(env.remote), str(work), cwd=tmp_path)
    for entry in listed:
        check_preview_file(work, entry["path"], entry["branch"])
