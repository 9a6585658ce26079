"""Forge requests whose answer is reset, cut short or late: idempotent ones are sent again, others are not,
and the message says exactly what happened. A fake GitLab/GitHub on 127.0.0.1 behind the fault proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from promoter.errors import ForgeError
from promoter.forge import make_forge
from promoter.forge.base import Forge, ForgeSettings
from tests.support.fakeforge_writes import GITHUB_PULLS, GITLAB_MRS, FakeForge, serve_fake_forge
from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.unit.forge.payloads import gitlab_mr

TOKEN = "glpat-FAULTSforgeTOKEN-0042"
SOURCE, TARGET = "promoter/production/api", "production"


@pytest.fixture
def fake() -> Iterator[tuple[FakeForge, FaultProxy]]:
    with serve_fake_forge() as forge, fault_proxy(forge.port) as proxy:
        yield forge, proxy


def gitlab(proxy: FaultProxy, slept: list[float], **env: str) -> Forge:
    settings = ForgeSettings(type="gitlab", url=proxy.url().rstrip("/"), project="acme/environments")
    return make_forge(settings, {"PROMOTER_TOKEN": TOKEN, **env}, sleep=slept.append)


def github(proxy: FaultProxy, slept: list[float], **env: str) -> Forge:
    settings = ForgeSettings(type="github", url=proxy.url().rstrip("/"), project="acme/environments")
    return make_forge(settings, {"GITHUB_TOKEN": TOKEN, **env}, sleep=slept.append)


@pytest.mark.parametrize(("action", "after"), [("reset", 0), ("lose-answer", 0), ("cut", 300)])
def test_gitlab_get_is_sent_again_after_a_lost_or_cut_answer(
    fake: tuple[FakeForge, FaultProxy], action: str, after: int
) -> None:
    forge, proxy = fake
    forge.gitlab[5] = gitlab_mr(5, source=SOURCE, target=TARGET)
    proxy.add(f"GET {GITLAB_MRS}", action, after=after, times=1)
    slept: list[float] = []
    found = gitlab(proxy, slept).find_open_request(SOURCE, TARGET)
    assert found is not None and found.number == 5
    assert slept == [0.5]  # one backoff, then the second try answered
    assert sum(1 for line in proxy.seen if line.startswith(f"GET {GITLAB_MRS}")) == 2


def test_github_get_is_sent_again_after_a_reset(fake: tuple[FakeForge, FaultProxy]) -> None:
    _, proxy = fake
    proxy.add(f"GET {GITHUB_PULLS}", "reset", times=1)
    slept: list[float] = []
    assert github(proxy, slept).find_open_request(SOURCE, TARGET) is None
    assert slept == [0.5]


def test_a_get_that_never_answers_times_out_and_says_so(fake: tuple[FakeForge, FaultProxy]) -> None:
    _, proxy = fake
    proxy.add(f"GET {GITLAB_MRS}", "stall", times=None)
    slept: list[float] = []
    with pytest.raises(ForgeError) as info:
        gitlab(proxy, slept, PROMOTER_FORGE_TIMEOUT="0.5").find_open_request(SOURCE, TARGET)
    message = info.value.message
    assert message.startswith("GitLab: find merge request") or "merge request" in message
    assert "timed out after 0.5 s" in message
    assert "gave up after 4 tries" in message
    assert "cannot reach" not in message
    assert slept == [0.5, 1.0, 2.0]
    assert info.value.exit_code == 1


def test_a_post_whose_answer_was_lost_is_not_sent_again(fake: tuple[FakeForge, FaultProxy]) -> None:
    forge, proxy = fake
    proxy.add(f"POST {GITLAB_MRS}", "lose-answer", times=None)
    slept: list[float] = []
    with pytest.raises(ForgeError) as info:
        gitlab(proxy, slept).open_or_update_request(SOURCE, TARGET, "api: production -> 1.2", "body")
    message = info.value.message
    assert "connection reset" in message
    assert "POST not retried because it is not idempotent" in message
    assert "gave up after" not in message
    assert "may have been applied" in (info.value.hint or "")
    assert forge.count("POST", GITLAB_MRS) >= 1  # it reached the server ...
    assert slept == []  # ... and promoter did not send it again
    assert TOKEN not in message + (info.value.hint or "")


def test_a_post_answered_502_says_it_was_not_retried(fake: tuple[FakeForge, FaultProxy]) -> None:
    forge, proxy = fake
    forge.status_override[f"POST {GITLAB_MRS}"] = 502
    slept: list[float] = []
    with pytest.raises(ForgeError) as info:
        gitlab(proxy, slept).open_or_update_request(SOURCE, TARGET, "title", "body")
    assert "502" in info.value.message
    assert "POST not retried because it is not idempotent" in info.value.message
    assert "gave up after 4 tries" not in info.value.message
    assert forge.count("POST", GITLAB_MRS) == 1


def test_a_put_with_the_same_body_is_sent_again(fake: tuple[FakeForge, FaultProxy]) -> None:
    forge, proxy = fake
    forge.gitlab[3] = gitlab_mr(3, source=SOURCE, target=TARGET, title="old title")
    proxy.add(f"PUT {GITLAB_MRS}/3", "lose-answer", times=1)
    slept: list[float] = []
    request, action = gitlab(proxy, slept).open_or_update_request(SOURCE, TARGET, "new title", "body")
    assert (request.number, action) == (3, "updated")
    assert forge.gitlab[3]["title"] == "new title"
    assert forge.count("PUT", f"{GITLAB_MRS}/3") == 2


def test_an_answer_always_cut_short_says_so(fake: tuple[FakeForge, FaultProxy]) -> None:
    forge, proxy = fake
    forge.gitlab[5] = gitlab_mr(5, source=SOURCE, target=TARGET)
    proxy.add(f"GET {GITLAB_MRS}", "cut", after=300, times=None)
    slept: list[float] = []
    with pytest.raises(ForgeError) as info:
        gitlab(proxy, slept).find_open_request(SOURCE, TARGET)
    assert "was cut short (gave up after 4 tries)" in info.value.message
