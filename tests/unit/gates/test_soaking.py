"""Soak verdicts from a real env repo's history with a fixed clock: the walk stops once every app is
decided, and health reports (commit statuses) move the start."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from promoter.config import parse_config
from promoter.envrepo import EnvRepo
from promoter.forge.base import CommitStatus
from promoter.gates.health import health_since
from promoter.gates.soaking import soak_verdicts
from tests.support.gitrepos import make_remote
from tests.unit.gates.test_history import CONFIG, Work, values

UTC = timezone.utc


def repo_with_history(tmp_path: Path) -> tuple[Path, Work, dict[str, str]]:
    bare = make_remote(
        tmp_path, {"values.yaml": values("1.0.0", "2.0.0"), "web.yaml": "tag: w0\n"}, branches=("staging",)
    )
    work = Work(bare, "staging")
    shas = {}
    shas["worker"] = work.commit({"values.yaml": values("1.0.0", "2.1.0")}, "worker by hand", minutes=10)
    for number in range(1, 120):  # two hours of web changes, a minute apart
        work.commit(
            {"web.yaml": f"tag: w{number}\n"},
            f"web -> w{number}\n\nPromoter-App: web\nPromoter-Env: staging\nPromoter-Versions: web=w{number}\n",
            minutes=1,
        )
    shas["api"] = work.commit(
        {"values.yaml": values("1.1.0", "2.1.0")},
        "api -> 1.1.0\n\nPromoter-App: api\nPromoter-Env: staging\nPromoter-Versions: api=1.1.0\n",
        minutes=1,
    )
    work.push()
    return bare, work, shas


def test_only_what_changed_within_the_soak_is_refused(tmp_path: Path) -> None:
    bare, work, shas = repo_with_history(tmp_path)
    config = parse_config(CONFIG, "promoter.yaml")
    env = config.environment("staging")
    now = datetime.fromtimestamp(work.clock, UTC) + timedelta(minutes=10)  # api was set 10 minutes ago
    apps = [config.app("api"), config.app("worker")]
    with EnvRepo(str(bare), sparse=[]) as repo:
        verdicts = soak_verdicts(repo, env, apps, {"api": "1.1.0", "worker": "2.1.0"}, 3600, now)
    api, worker = verdicts["api"], verdicts["worker"]
    assert not api.eligible and api.since.commit == shas["api"] and api.since.basis == "committed"
    assert api.message().startswith("api 1.1.0 has been in staging for 10m, soak is 1h: eligible at ")
    assert worker.eligible  # changed two hours ago: decided without finding the commit
    assert worker.since.detail == "unchanged for longer than the soak"
    with EnvRepo(str(bare)) as repo:
        assert soak_verdicts(repo, env, apps, {"api": "1.1.0"}, 0, now) == {}  # no soak, no walk
        assert repo.clone.cmd is None  # nothing was even cloned


class Statuses:
    """A forge that answers commit statuses from a table (the forge layer itself is tested with
    `responses` in tests/unit/forge/)."""

    kind = "gitlab"

    def __init__(self, table: dict[str, list[CommitStatus]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        self.asked.append(sha)
        return self.table.get(sha, [])


def test_health_reports_move_the_start_and_a_failure_never_soaks() -> None:
    config = parse_config(
        "version: 1\nenvironments:\n  staging:\n    branch: staging\n"
        "    deploy: {commit-status: {contexts: [flux/apps]}}\n"
        "  qa: {branch: qa, deploy: {argocd: {url: 'https://argocd.example.com'}}}\n",
        "promoter.yaml",
    )
    staging, qa = config.environment("staging"), config.environment("qa")
    committed = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    set_sha, head = "c" * 40, "h" * 40
    ok = [CommitStatus("flux/apps", "success", updated_at="2026-12-01T12:30:00Z")]
    failed = [CommitStatus("flux/apps", "failed", "Health check failed")]
    forge: Any = Statuses({set_sha: ok})
    since = health_since(staging, forge, set_sha, committed, head)
    assert (since.basis, since.moment, since.detail) == (
        "healthy",
        datetime(2026, 12, 1, 12, 30, tzinfo=UTC),
        "flux/apps",
    )
    forge = Statuses({head: ok})  # only the later head was reported: counted from its report
    since = health_since(staging, forge, set_sha, committed, head)
    assert since.basis == "healthy" and since.detail == f"flux/apps on the branch head {head[:12]}"
    assert forge.asked == [set_sha, head]
    since = health_since(staging, Statuses({set_sha: failed, head: failed}), set_sha, committed, head)
    assert (
        since.basis == "failed"
        and since.explain() == f"its deployment was reported failed (flux/apps failed on {head[:12]})"
    )
    since = health_since(staging, Statuses({}), set_sha, committed, head)
    assert (since.basis, since.detail) == ("committed", "no health report from flux/apps yet")
    since = health_since(qa, None, set_sha, committed, head)
    assert (since.basis, since.detail) == ("committed", "argocd reports no time of health")
