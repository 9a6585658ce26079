"""``promoter wait`` and ``--wait`` end to end: real env repos, the loopback Argo CD API, the real kubectl with
the fake Kubernetes API for the bundled reconciler, `responses` for the forges. Waits poll every second."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses

from promoter.errors import EXIT_DEPLOY_FAILED, EXIT_DEPLOY_TIMEOUT, EXIT_OPERATIONAL
from tests.support.argocd import Answer, FakeArgoCD, Recorded, application, resource
from tests.support.gitrepos import git, make_remote

VALUES = "image:\n  repository: registry.example.com/acme/api\n  tag: 1.4.1\n"
CONFIG = """\
version: 1
forge: {forge}
environments:
  staging:
    branch: staging
    url: https://staging.example.com
    deploy:
      argocd: {{url: "{argocd}", application: "{{{{ app }}}}-{{{{ env }}}}"}}
      poll: 1s
      timeout: 20s
  qa:
    branch: qa
    deploy:
      argocd: {{url: "{argocd}", application: "{{{{ app }}}}-{{{{ env }}}}"}}
      poll: 1s
  production:
    branch: production
    approval: true
    deploy:
      argocd: {{url: "{argocd}"}}
apps:
  api:
    image: registry.example.com/acme/api
    files: [{{file: values.yaml, key: image.tag}}]
"""
DEGRADED = 'Deployment "api" exceeded its progress deadline'
OLD = "0" * 40


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_remote(tmp_path, {"values.yaml": VALUES}, branches=("main", "staging", "qa", "production"))


@pytest.fixture
def config(tmp_path: Path, argocd: FakeArgoCD) -> Path:
    path = tmp_path / "promoter.yaml"
    path.write_text(CONFIG.format(forge="{type: none}", argocd=argocd.url))
    return path


def head(repo: Path, branch: str = "staging") -> str:
    return git("rev-parse", branch, cwd=repo)


def at_head(repo: Path, branch: str = "staging", **kwargs: Any):  # type: ignore[no-untyped-def]
    """An Argo CD answer computed per request: the application at the branch's current head."""

    def answer(request: Recorded) -> dict[str, Any]:
        return application(f"api-{branch}", revision=head(repo, branch), **kwargs)

    return answer


def cli(run_cli: Any, config: Path, repo: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli("--config", str(config), "--repo", str(repo), *args, env=env)


def bump(run_cli: Any, config: Path, repo: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return cli(
        run_cli,
        config,
        repo,
        "bump",
        "staging",
        "--app",
        "api",
        "--tag",
        "1.4.2",
        "--no-verify-image",
        *args,
        env=env,
    )


# -- bump --wait ---------------------------------------------------------------------------------------
def test_bump_wait_healthy(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD, tmp_path: Path
) -> None:
    argocd.script(
        "api-staging",
        application("api-staging", revision=OLD),
        at_head(repo, sync="OutOfSync", operation=None),
        at_head(repo, health="Progressing"),
        at_head(repo),
    )
    dotenv = tmp_path / "deploy.env"
    result = bump(run_cli, config, repo, "--wait", env={"PROMOTER_DOTENV": str(dotenv)})
    assert result.exit_code == 0, result.output
    pushed = head(repo)
    assert f"staging: api healthy at {pushed[:12]} after" in result.stdout
    assert "staging/api: Synced (1.4.2), 0 s" in result.stderr
    assert "staging/api: OutOfSync -> Progressing (1.4.2)" in result.stderr
    assert "staging/api: Progressing -> Healthy (1.4.2)" in result.stderr
    outputs = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    assert outputs["PROMOTER_RESULT"] == "changed" and outputs["PROMOTER_COMMIT"] == pushed
    assert outputs["PROMOTER_DEPLOY_STATUS"] == "healthy"
    assert outputs["PROMOTER_DEPLOY_REVISION"] == pushed
    assert int(outputs["PROMOTER_DEPLOY_SECONDS"]) >= 3
    calls = argocd.calls("api-staging")
    assert len(calls) == 4 and calls[0].query == {"refresh": ["normal"]}


def test_bump_wait_with_a_degraded_app_exits_6_and_names_the_resource(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD
) -> None:
    degraded = at_head(
        repo,
        health="Degraded",
        resources=[resource("Deployment", "api", health="Degraded", message=DEGRADED)],
    )
    argocd.script("api-staging", at_head(repo, health="Progressing"), degraded)
    result = bump(run_cli, config, repo, "--wait", "--output", "json")
    assert result.exit_code == EXIT_DEPLOY_FAILED, result.output
    payload = json.loads(result.stdout)
    error = payload["error"]
    assert payload["ok"] is False and error["exit_code"] == 6
    assert error["message"] == f'the deployment to staging failed: staging/api: Deployment "api": {DEGRADED}'
    (state,) = error["details"]["wait"]["apps"]
    assert state["status"] == "failed" and state["health"] == "Degraded" and state["revision"] == head(repo)
    assert state["failing"] == [
        {
            "kind": "Deployment",
            "name": "api",
            "namespace": "staging",
            "status": "Degraded",
            "message": DEGRADED,
        }
    ]
    assert error["details"]["result"] == "changed"  # the push happened; the deploy broke


def test_bump_wait_never_synced_exits_7_near_the_timeout(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD
) -> None:
    argocd.script("api-staging", application("api-staging", revision=OLD))
    started = time.monotonic()
    result = bump(run_cli, config, repo, "--wait-timeout", "3s")
    elapsed = time.monotonic() - started
    assert result.exit_code == EXIT_DEPLOY_TIMEOUT, result.output
    assert "timed out after 3 s waiting for staging: staging/api: Synced at 000000000000" in result.stderr
    assert 3.0 <= elapsed < 3.0 + 1.0 + 2.0  # one poll, plus the push before the wait
    assert len(argocd.calls("api-staging")) == 3  # t = 0, 1, 2: nothing at or after the deadline


def test_502s_during_the_wait_still_end_in_exit_0(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD
) -> None:
    bad = Answer(502, b"<html>502 Bad Gateway</html>")
    argocd.script("api-staging", bad, bad, at_head(repo))
    result = bump(run_cli, config, repo, "--wait")
    assert result.exit_code == 0, result.output
    assert "staging/api: Argo CD: 502 (retrying), 0 s" in result.stderr
    refreshes = [c.query.get("refresh") for c in argocd.calls("api-staging")]
    assert refreshes == [["normal"], ["normal"], ["normal"]]


def test_a_later_commit_that_contains_the_push_counts(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD, tmp_path: Path
) -> None:
    """Another pipeline pushes right after this one; Argo CD deploys that newer commit."""
    later: dict[str, str] = {}

    def newer(request: Recorded) -> dict[str, Any]:
        if not later:
            work = tmp_path / "other-pipeline"
            git("clone", "-q", "-b", "staging", str(repo), str(work), cwd=tmp_path)
            (work / "other.yaml").write_text("x: 1\n")
            git("add", "other.yaml", cwd=work)
            git("commit", "-q", "-m", "another pipeline", cwd=work)
            git("push", "-q", "origin", "HEAD:staging", cwd=work)
            later["sha"] = git("rev-parse", "HEAD", cwd=work)
        return application("api-staging", revision=later["sha"])

    argocd.script("api-staging", newer)
    result = bump(run_cli, config, repo, "--wait", "--output", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["wait"]["apps"][0]["revision"] == later["sha"] != payload["commit"]
    assert payload["wait"]["revision"] == payload["commit"]


def test_401_is_exit_1_at_once(run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD) -> None:
    argocd.token = "the-right-one"
    result = bump(run_cli, config, repo, "--wait", env={"ARGOCD_AUTH_TOKEN": "argocd-expired-token-value"})
    assert result.exit_code == EXIT_OPERATIONAL, result.output
    assert "Argo CD: 401 unauthorized" in result.stderr
    assert "hint: Argo CD rejected the token from ARGOCD_AUTH_TOKEN" in result.stderr
    assert "argocd-expired-token-value" not in result.output
    assert len(argocd.calls()) == 1


# -- promoter wait ---------------------------------------------------------------------------------------
def test_wait_for_the_head_as_json(run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD) -> None:
    argocd.script("api-staging", at_head(repo))
    result = cli(run_cli, config, repo, "--output", "json", "wait", "staging")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    wait = payload["wait"]
    assert (wait["status"], wait["env"], wait["revision"], wait["env_url"]) == (
        "healthy",
        "staging",
        head(repo),
        "https://staging.example.com",
    )
    assert wait["apps"] == [
        {
            "env": "staging",
            "app": "api",
            "status": "healthy",
            "revision": head(repo),
            "sync": "Synced",
            "health": "Healthy",
            "message": "",
            "seconds": wait["apps"][0]["seconds"],
            "failing": [],
        }
    ]
    assert "staging/api: Healthy (1.4.1), 0 s" in result.stderr  # the tag at the head


def test_wait_for_a_given_revision_and_unknown_app(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD
) -> None:
    argocd.script("api-staging", at_head(repo))
    ok = cli(
        run_cli, config, repo, "wait", "staging", "--app", "api", "--revision", head(repo), "--timeout", "5"
    )
    assert ok.exit_code == 0, ok.output
    assert f"staging/api: Healthy ({head(repo)[:12]})" in ok.stderr
    typo = cli(run_cli, config, repo, "wait", "staging", "--app", "apj")
    assert typo.exit_code == 2 and "unknown app 'apj'" in typo.stderr


def test_wait_without_a_deploy_section_is_a_config_error(run_cli: Any, repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "bare.yaml"
    config.write_text(
        "version: 1\nenvironments: {staging: {branch: staging}}\n"
        "apps: {api: {image: registry.example.com/acme/api, files: [{file: values.yaml, key: image.tag}]}}\n"
    )
    result = cli(run_cli, config, repo, "wait", "staging")
    assert result.exit_code == 2
    assert "environment staging has no deploy section" in result.stderr


def test_promote_wait_waits_for_the_target(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD
) -> None:
    assert bump(run_cli, config, repo).exit_code == 0  # staging runs 1.4.2
    argocd.script("api-qa", at_head(repo, "qa", health="Progressing"), at_head(repo, "qa"))
    result = cli(run_cli, config, repo, "--output", "json", "promote", "staging", "qa", "--wait")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["result"] == "changed" and payload["wait"]["status"] == "healthy"
    assert payload["wait"]["revision"] == head(repo, "qa") == payload["commit"]
    assert "qa/api: Progressing -> Healthy (1.4.2)" in result.stderr
    assert argocd.calls("api-staging") == []


# -- approval: nothing to wait for ------------------------------------------------------------------------
def test_bump_wait_on_an_approval_environment_does_not_wait(
    run_cli: Any, repo: Path, argocd: FakeArgoCD, tmp_path: Path
) -> None:
    from tests.unit.forge.payloads import github_pr

    config = tmp_path / "promoter.yaml"
    config.write_text(CONFIG.format(forge="{type: github, project: acme/environments}", argocd=argocd.url))
    pulls = "https://api.github.com:443/repos/acme/environments/pulls"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(pulls, json=[])
        api.post(pulls, status=201, json=github_pr(5, source="promoter/production/api", target="production"))
        result = cli(
            run_cli,
            config,
            repo,
            "bump",
            "production",
            "--app",
            "api",
            "--tag",
            "1.4.2",
            "--no-verify-image",
            "--wait",
            env={"PROMOTER_TOKEN": "ghp_approvalTOKEN000000"},
        )
    assert result.exit_code == 0, result.output
    assert "not merged yet, so there is no deployment to wait for" in result.stderr
    assert argocd.calls() == []


# -- reporting from GitHub Actions ------------------------------------------------------------------------
def test_bump_wait_reports_a_github_deployment(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD, tmp_path: Path
) -> None:
    argocd.script("api-staging", at_head(repo))
    summary = tmp_path / "summary.md"
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_SHA": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
        "GITHUB_RUN_ID": "9001",
        "GITHUB_TOKEN": "ghs_reportTOKEN0123456789",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    deployments = "https://api.github.com:443/repos/acme/api/deployments"
    with responses.RequestsMock(assert_all_requests_are_fired=True, passthru_prefixes=(argocd.url,)) as api:
        api.post(deployments, status=201, json={"id": 77})
        api.post(f"{deployments}/77/statuses", status=201, json={"id": 1})
        api.post(f"{deployments}/77/statuses", status=201, json={"id": 2})
        result = bump(run_cli, config, repo, "--wait", env=environ)
        forge_calls = [c for c in api.calls if not c.request.url.startswith(argocd.url)]
    assert result.exit_code == 0, result.output
    assert [urlsplit(c.request.url).path for c in forge_calls] == [
        "/repos/acme/api/deployments",
        "/repos/acme/api/deployments/77/statuses",
        "/repos/acme/api/deployments/77/statuses",
    ]
    assert json.loads(forge_calls[0].request.body)["ref"] == environ["GITHUB_SHA"]
    assert [json.loads(c.request.body)["state"] for c in forge_calls[1:]] == ["in_progress", "success"]
    assert json.loads(forge_calls[2].request.body)["environment_url"] == "https://staging.example.com"
    text = summary.read_text()
    assert "### ✅ promoter: staging deploy healthy" in text and "| api |" in text


def test_no_report_sends_nothing_to_the_forge(
    run_cli: Any, config: Path, repo: Path, argocd: FakeArgoCD
) -> None:
    argocd.script("api-staging", at_head(repo))
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_SHA": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
        "GITHUB_TOKEN": "ghs_reportTOKEN0123456789",
    }
    with responses.RequestsMock(assert_all_requests_are_fired=True, passthru_prefixes=(argocd.url,)) as api:
        result = bump(run_cli, config, repo, "--wait", "--no-report", env=environ)
        assert [c for c in api.calls if not c.request.url.startswith(argocd.url)] == []
    assert result.exit_code == 0, result.output


# -- SIGTERM: a cancelled pipeline -------------------------------------------------------------------------
def test_sigterm_prints_the_last_state(config: Path, repo: Path, argocd: FakeArgoCD, tmp_path: Path) -> None:
    argocd.script("api-staging", at_head(repo, sync="OutOfSync", operation="Running", health="Progressing"))
    environ = {**os.environ, "PROMOTER_CONFIG": str(config), "PROMOTER_REPO": str(repo)}
    process = subprocess.Popen(
        [sys.executable, "-m", "promoter", "wait", "staging"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not argocd.calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == EXIT_OPERATIONAL, err
    assert "SIGTERM received: stopping the wait" in err
    assert f"last seen: staging/api: OutOfSync at {head(repo)[:12]}" in err
    assert "the wait for staging was stopped after" in err


# -- the bundled reconciler: reconcile --once, then wait reading its result ------------------------------
WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - {name: web, image: "registry.example.com/acme/web:2.0.0"}
"""
BUNDLED_CONFIG = """\
version: 1
environments:
  cluster:
    branch: main
    path: clusters/prod
    deploy: {promoter: {instance: prod}, poll: 1s, timeout: 10s}
apps:
  web:
    image: registry.example.com/acme/web
    files: [{file: web.yaml}]
"""


def test_reconcile_once_then_wait_reads_its_result(
    run_cli: Any, fake_kube: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = make_remote(tmp_path, {"promoter.yaml": BUNDLED_CONFIG, "clusters/prod/web.yaml": WEB})
    config = tmp_path / "bundled.yaml"
    config.write_text(BUNDLED_CONFIG)
    monkeypatch.setenv("PROMOTER_NAMESPACE", "default")

    def reconcile() -> Any:
        return run_cli(
            "--repo",
            str(bare),
            "reconcile",
            "--ref",
            "main",
            "--path",
            "clusters/prod",
            "--instance",
            "prod",
            "--once",
            "--cache-dir",
            str(tmp_path / "cache"),
        )

    never = cli(run_cli, config, bare, "wait", "cluster", "--timeout", "2")
    assert never.exit_code == EXIT_DEPLOY_TIMEOUT, never.output
    # the state's age depends on when the last poll ran (later on a busy machine), not its wording
    assert re.search(
        r"cluster/web: NeverReconciled \(2\.0\.0\), \d+ s: the reconciler has not run a pass yet",
        never.stderr,
    )

    assert reconcile().exit_code == 0
    healthy = cli(run_cli, config, bare, "--output", "json", "wait", "cluster")
    assert healthy.exit_code == 0, healthy.output
    (state,) = json.loads(healthy.stdout)["wait"]["apps"]
    assert (state["app"], state["status"], state["revision"], state["sync"]) == (
        "web",
        "healthy",
        head(bare, "main"),
        "applied",
    )

    work = tmp_path / "break"
    git("clone", "-q", str(bare), str(work), cwd=tmp_path)
    (work / "clusters/prod/web.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: [broken\n")
    git("commit", "-q", "-am", "break it", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    assert reconcile().exit_code == 3  # render-failed
    failed = cli(run_cli, config, bare, "wait", "cluster")
    assert failed.exit_code == EXIT_DEPLOY_FAILED, failed.output
    assert "the deployment to cluster failed: cluster/web:" in failed.stderr
    assert "web.yaml" in failed.stderr


# -- preview up --wait: the preview's own application --------------------------------------------------
PREVIEW_CONFIG = """\
version: 1
environments: {{staging: {{branch: staging}}}}
apps:
  api: {{image: registry.example.com/acme/api, files: [{{file: values.yaml}}]}}
previews:
  template: argocd-application
  values:
    repo_url: https://git.example.com/acme/api.git
    path: chart
    url: "https://{{{{ slug }}}}.preview.example.com"
  deploy:
    argocd: {{url: "{argocd}"}}
    poll: 1s
    timeout: 10s
"""


def test_preview_up_wait_waits_for_the_preview_application_and_prints_its_url(
    run_cli: Any, repo: Path, argocd: FakeArgoCD, tmp_path: Path
) -> None:
    config = tmp_path / "previews.yaml"
    config.write_text(PREVIEW_CONFIG.format(argocd=argocd.url))
    seen: list[str] = []

    def preview_app(request: Recorded) -> Any:
        seen.append(request.name)
        if len(seen) == 1:
            return Answer(403, {"error": "permission denied", "code": 7, "message": "permission denied"})
        return application(request.name, revision="a" * 40, annotations={"promoter.dev/tag": "1.0.0"})

    argocd.script("*", preview_app)
    result = cli(
        run_cli,
        config,
        repo,
        "preview",
        "up",
        "--id",
        "5",
        "--branch",
        "feature/x",
        "--project",
        "acme/api",
        "--tag",
        "1.0.0",
        "--wait",
    )
    assert result.exit_code == 0, result.output
    slug = seen[0]
    assert seen == [slug, slug] and "feature" in slug
    assert f"preview/{slug}: NotFound (1.0.0), 0 s" in result.stderr
    assert f"preview/{slug}: NotFound -> Healthy (1.0.0)" in result.stderr
    assert result.stdout.rstrip().endswith(f"https://{slug}.preview.example.com")
