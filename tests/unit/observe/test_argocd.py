"""Argo CD source against a loopback server speaking Argo CD's API shapes; waits run on a fake clock."""

from __future__ import annotations

import pytest

from promoter import masking
from promoter.errors import OperationalError
from promoter.observe.ancestry import Ancestry
from promoter.observe.argocd import ArgoCDSource
from promoter.observe.narrate import Narrator
from promoter.observe.source import SourceAccessDenied, SourceUnavailable, Target
from promoter.observe.wait import Waiter, WaitSettings
from tests.support.argocd import PERMISSION_DENIED, Answer, FakeArgoCD, application, resource

PUSHED = "1f0c2d9e8b7a6543210fedcba9876543210abcde"
OLD = "0" * 40
TOKEN = "argocd-token-0123456789abcdef"


def source(argocd: FakeArgoCD, name: str = "api-staging", **kwargs: object) -> ArgoCDSource:
    return ArgoCDSource(argocd.url, name, token=TOKEN, **kwargs)  # type: ignore[arg-type]


def run_wait(
    argocd: FakeArgoCD, fake_time, *, timeout: float = 600, settle: float = 0, name: str = "api-staging"
):
    lines: list[str] = []
    waiter = Waiter(
        [Target("staging", ("api",), source(argocd, name), "1.4.2")],
        Ancestry(PUSHED),
        WaitSettings(poll_seconds=5, timeout_seconds=timeout, settle_seconds=settle),
        narrator=Narrator(write=lines.append),
        clock=fake_time.clock,
        stop=fake_time.stop,
    )
    return waiter.run(), lines, waiter


# -- one poll ------------------------------------------------------------------------------------------
def test_synced_healthy_at_the_pushed_commit(argocd: FakeArgoCD) -> None:
    argocd.token = TOKEN
    argocd.script("api-staging", application("api-staging", revision=PUSHED))
    observation = source(argocd).observe(refresh=True)
    assert observation.revisions == (PUSHED,) and observation.attempted == (PUSHED,)
    assert (observation.in_sync, observation.busy, observation.health, observation.stale) == (
        True,
        False,
        "Healthy",
        False,
    )
    (call,) = argocd.calls()
    assert call.query == {"refresh": ["normal"]}
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"


def test_app_namespace_and_no_refresh_after_the_first_poll(argocd: FakeArgoCD) -> None:
    argocd.script("api", application("api", revision=PUSHED, namespace="team-a"))
    source(argocd, "api", app_namespace="team-a").observe()
    assert argocd.calls()[0].query == {"appNamespace": ["team-a"]}


def test_out_of_sync(argocd: FakeArgoCD) -> None:
    argocd.script(
        "api-staging", application("api-staging", revision=PUSHED, sync="OutOfSync", operation=None)
    )
    observation = source(argocd).observe()
    assert (observation.in_sync, observation.sync_label, observation.attempted) == (False, "OutOfSync", ())


def test_degraded_names_the_resources_and_their_messages(argocd: FakeArgoCD) -> None:
    message = 'Deployment "api" exceeded its progress deadline'
    argocd.script(
        "api-staging",
        application(
            "api-staging",
            revision=PUSHED,
            health="Degraded",
            resources=[
                resource("Service", "api", group=""),
                resource("Deployment", "api", health="Degraded", message=message),
                resource("Pod", "api-7d9c-x", health="Missing", group=""),
            ],
        ),
    )
    observation = source(argocd).observe()
    assert observation.health == "Degraded"
    assert [str(r) for r in observation.failing] == [
        f'Deployment "api": {message}',
        'Pod "api-7d9c-x": Missing',
    ]


def test_failed_operation(argocd: FakeArgoCD) -> None:
    argocd.script(
        "api-staging",
        application(
            "api-staging",
            revision=PUSHED,
            sync="OutOfSync",
            health="Healthy",
            operation="Failed",
            operation_message="one or more objects failed to apply, reason: admission webhook denied the request",
            sync_failures=[
                {
                    "group": "apps",
                    "version": "v1",
                    "kind": "Deployment",
                    "namespace": "staging",
                    "name": "api",
                    "status": "SyncFailed",
                    "message": 'admission webhook "policy" denied the request: image not signed',
                    "hookPhase": "Failed",
                    "syncPhase": "Sync",
                }
            ],
        ),
    )
    observation = source(argocd).observe()
    assert observation.attempt_failed and observation.attempted == (PUSHED,)
    assert observation.message.startswith("one or more objects failed to apply")
    assert str(observation.failing[0]) == (
        'Deployment "api": admission webhook "policy" denied the request: image not signed'
    )


def test_multi_source_revisions(argocd: FakeArgoCD) -> None:
    argocd.script("api-staging", application("api-staging", revisions=["1.2.3", PUSHED]))
    observation = source(argocd).observe()
    assert observation.revisions == ("1.2.3", PUSHED)
    assert observation.stale is False
    assert Ancestry(PUSHED).any_current(observation.revisions)


def test_status_of_a_previous_spec_is_stale(argocd: FakeArgoCD) -> None:
    new = {"repoURL": "https://git.example.com/acme/api.git", "path": "chart", "targetRevision": "HEAD"}
    old = {**new, "helm": {"parameters": [{"name": "image.tag", "value": "1.4.1"}]}}
    argocd.script("pr-7", application("pr-7", revision=PUSHED, spec_source=new, compared_source=old))
    assert source(argocd, "pr-7").observe().stale is True


def test_expected_annotations_gate_a_preview(argocd: FakeArgoCD) -> None:
    argocd.script("pr-7", application("pr-7", revision=OLD, annotations={"promoter.dev/tag": "1.4.1"}))
    waiting = source(argocd, "pr-7", expect_annotations={"promoter.dev/tag": "1.4.2"}).observe()
    assert waiting.found and not waiting.revision_blind and waiting.revisions == ()
    argocd.script("pr-7", application("pr-7", revision=OLD, annotations={"promoter.dev/tag": "1.4.2"}))
    ready = source(argocd, "pr-7", expect_annotations={"promoter.dev/tag": "1.4.2"}).observe()
    assert ready.revision_blind and ready.in_sync


# -- errors --------------------------------------------------------------------------------------------
def test_502_is_transient(argocd: FakeArgoCD) -> None:
    argocd.script("api-staging", Answer(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"}))
    with pytest.raises(SourceUnavailable) as caught:
        source(argocd).observe()
    assert caught.value.message == "Argo CD: 502"


def test_429_honours_retry_after(argocd: FakeArgoCD) -> None:
    argocd.script(
        "api-staging",
        Answer(429, {"error": "slow down", "code": 8, "message": "slow down"}, {"Retry-After": "7"}),
    )
    with pytest.raises(SourceUnavailable) as caught:
        source(argocd).observe()
    assert caught.value.retry_after == 7.0


def test_401_stops_with_a_hint_and_never_shows_the_token(argocd: FakeArgoCD) -> None:
    argocd.token = "the-right-token"
    with pytest.raises(SourceAccessDenied) as caught:
        source(argocd).observe()
    error = caught.value
    assert error.exit_code == 1
    assert error.message == "Argo CD: 401 unauthorized: invalid session: token is expired"
    assert (
        error.hint == "Argo CD rejected the token from ARGOCD_AUTH_TOKEN: check it is valid and not expired"
    )
    assert TOKEN not in str(error.as_dict()) and masking.mask(TOKEN) == "***"


def test_401_without_a_token_says_which_variable(argocd: FakeArgoCD) -> None:
    argocd.token = "required"
    with pytest.raises(SourceAccessDenied) as caught:
        ArgoCDSource(argocd.url, "api-staging").observe()
    assert caught.value.hint and "set ARGOCD_AUTH_TOKEN" in caught.value.hint
    assert "Authorization" not in argocd.calls()[0].headers


def test_403_names_both_causes(argocd: FakeArgoCD) -> None:
    argocd.script("api-staging", Answer(403, PERMISSION_DENIED))
    with pytest.raises(SourceAccessDenied) as caught:
        source(argocd).observe()
    assert "does not exist" in (caught.value.hint or "") and "'applications, get'" in (
        caught.value.hint or ""
    )


def test_403_for_a_preview_means_not_created_yet(argocd: FakeArgoCD) -> None:
    assert source(argocd, "pr-7", missing_ok=True).observe().found is False


def test_not_an_argocd_server(argocd: FakeArgoCD) -> None:
    argocd.script("api-staging", Answer(200, b"<html>login</html>"))
    with pytest.raises(OperationalError, match="not an Application"):
        source(argocd).observe()


def test_unreachable_server_is_transient() -> None:
    with pytest.raises(SourceUnavailable, match="cannot reach Argo CD"):
        ArgoCDSource("http://127.0.0.1:9", "api").observe()


# -- whole waits -----------------------------------------------------------------------------------------
def test_wait_walks_from_out_of_sync_to_healthy(argocd: FakeArgoCD, fake_time) -> None:
    argocd.script(
        "api-staging",
        application("api-staging", revision=OLD),
        application("api-staging", revision=PUSHED, sync="OutOfSync", operation=None),
        application("api-staging", revision=PUSHED, sync="OutOfSync", operation="Running", health="Healthy"),
        application("api-staging", revision=PUSHED, health="Progressing"),
        application("api-staging", revision=PUSHED),
    )
    outcome, lines, waiter = run_wait(argocd, fake_time)
    assert outcome.status == "healthy"
    assert [line.split(",")[0] for line in lines] == [
        "staging/api: Synced (1.4.2)",
        "staging/api: Synced -> OutOfSync (1.4.2)",
        "staging/api: OutOfSync -> Progressing (1.4.2)",
        "staging/api: Progressing -> Healthy (1.4.2)",
    ]
    assert outcome.states[0].as_dict()["revision"] == PUSHED
    assert outcome.seconds == 20.0
    # one call per poll, the first one with refresh=normal
    calls = argocd.calls()
    assert len(calls) == waiter.polls == 5
    assert [c.query.get("refresh") for c in calls] == [["normal"], None, None, None, None]


def test_502s_during_the_wait_still_end_healthy(argocd: FakeArgoCD, fake_time) -> None:
    bad = Answer(502, b"Bad Gateway")
    argocd.script("api-staging", bad, bad, bad, application("api-staging", revision=PUSHED))
    outcome, lines, _ = run_wait(argocd, fake_time)
    assert outcome.status == "healthy"
    # backoff 5, 10, 20 s (the heartbeat at 30 s wakes the loop once); the refresh is asked again until
    # one request succeeds
    assert sum(fake_time.sleeps) == 35.0
    assert [c.query.get("refresh") for c in argocd.calls()] == [["normal"]] * 4
    assert lines == [
        "staging/api: Argo CD: 502 (retrying), 0 s",
        "staging/api: Pending (1.4.2), 30 s: Argo CD: 502 (retrying)",
        "staging/api: Healthy (1.4.2), 35 s",
    ]


def test_degraded_app_fails_and_names_the_resource(argocd: FakeArgoCD, fake_time) -> None:
    message = 'Deployment "api" exceeded its progress deadline'
    argocd.script(
        "api-staging",
        application("api-staging", revision=PUSHED, health="Progressing"),
        application(
            "api-staging",
            revision=PUSHED,
            health="Degraded",
            resources=[resource("Deployment", "api", health="Degraded", message=message)],
        ),
    )
    outcome, lines, _ = run_wait(argocd, fake_time)
    assert outcome.status == "failed"
    assert outcome.failed[0].problem() == f'Deployment "api": {message}'
    assert lines[-1] == f'staging/api: Progressing -> Degraded (1.4.2), 5 s: Deployment "api": {message}'


def test_never_synced_times_out_within_one_poll(argocd: FakeArgoCD, fake_time) -> None:
    argocd.script("api-staging", application("api-staging", revision=OLD))
    outcome, lines, waiter = run_wait(argocd, fake_time, timeout=62)
    assert outcome.status == "timeout"
    assert 62.0 <= outcome.seconds < 62.0 + 5.0
    assert waiter.polls == 13  # t = 0, 5, ..., 60
    # heartbeats every 30 s while nothing changes
    assert lines == [
        "staging/api: Synced (1.4.2), 0 s",
        "staging/api: Synced (1.4.2), 30 s",
        "staging/api: Synced (1.4.2), 60 s",
    ]


def test_settle_holds_health_before_it_counts(argocd: FakeArgoCD, fake_time) -> None:
    argocd.script("api-staging", application("api-staging", revision=PUSHED))
    outcome, lines, waiter = run_wait(argocd, fake_time, settle=12)
    assert outcome.status == "healthy" and outcome.seconds == 15.0 and waiter.polls == 4
    assert lines[0].startswith("staging/api: Settling (1.4.2)")


def test_401_during_the_wait_stops_it(argocd: FakeArgoCD, fake_time) -> None:
    argocd.token = "another"
    with pytest.raises(SourceAccessDenied):
        run_wait(argocd, fake_time)
    assert len(argocd.calls()) == 1


def test_a_minute_of_waiting_is_twelve_calls_at_the_default_poll(argocd: FakeArgoCD, fake_time) -> None:
    argocd.script("api-staging", application("api-staging", revision=OLD))
    outcome, _, waiter = run_wait(argocd, fake_time, timeout=60)
    assert outcome.status == "timeout" and outcome.seconds == 60.0
    assert len(argocd.calls()) == waiter.polls == 12
