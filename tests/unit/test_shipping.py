"""What ships: compare APIs of GitHub and GitLab through `responses` (payloads shaped like the official
docs), tags mapped to refs by `source_ref` or by the image's revision label in the real docker-registry,
tokens only for the configured forge, and request bodies cut at a row boundary."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from promoter.ci import CiContext
from promoter.config import parse_config
from promoter.workflows.request_body import BodyInput, render_body
from promoter.workflows.shipping import SHIPPED_PER_APP, Shipment, ShippedCommit, what_ships
from tests.support.registry import RegistryServer
from tests.unit.test_registry_labels import push_labelled

GH_TOKEN = "ghp_shipsTESTtoken0000000"
GL_TOKEN = "glpat-shipsTESTtoken000"


def github_commit(n: int) -> dict[str, Any]:
    """One item of ``commits`` in ``GET /repos/{owner}/{repo}/compare/{basehead}``."""
    sha = f"{n:040x}"
    return {
        "url": f"https://api.github.com/repos/acme/api/commits/{sha}",
        "sha": sha,
        "node_id": f"C_{n}",
        "html_url": f"https://github.com/acme/api/commit/{sha}",
        "comments_url": f"https://api.github.com/repos/acme/api/commits/{sha}/comments",
        "commit": {
            "url": f"https://api.github.com/repos/acme/api/git/commits/{sha}",
            "author": {"name": f"Dev {n}", "email": f"dev{n}@example.com", "date": "2026-11-30T10:00:00Z"},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": "2026-11-30T10:00:00Z"},
            "message": f"change number {n}\n\nlonger description",
            "tree": {"url": "https://api.github.com/repos/acme/api/tree/x", "sha": "x"},
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        },
        "author": {"login": f"dev{n}", "id": n},
        "committer": {"login": "web-flow", "id": 19864447},
        "parents": [{"url": "https://api.github.com/repos/acme/api/commits/p", "sha": "p"}],
    }


def github_compare(numbers: range, total: int) -> dict[str, Any]:
    return {
        "url": "https://api.github.com/repos/acme/api/compare/v1.4.1...v1.4.2",
        "html_url": "https://github.com/acme/api/compare/v1.4.1...v1.4.2",
        "permalink_url": "https://github.com/acme/api/compare/acme:1a2b...acme:3c4d",
        "diff_url": "https://github.com/acme/api/compare/v1.4.1...v1.4.2.diff",
        "patch_url": "https://github.com/acme/api/compare/v1.4.1...v1.4.2.patch",
        "status": "ahead",
        "ahead_by": total,
        "behind_by": 0,
        "total_commits": total,
        "commits": [github_commit(n) for n in numbers],
        "files": [],
    }


def gitlab_compare(shas: list[str]) -> dict[str, Any]:
    """``GET /projects/:id/repository/compare`` as documented (commits oldest first)."""
    commits = [
        {
            "id": sha,
            "short_id": sha[:8],
            "title": f"feat: step {n}",
            "author_name": f"Ann {n}",
            "author_email": f"ann{n}@example.com",
            "created_at": f"2026-11-{10 + n:02d}T09:00:00.000+01:00",
            "message": f"feat: step {n}\n",
        }
        for n, sha in enumerate(shas)
    ]
    return {
        "commit": commits[-1] if commits else None,
        "commits": commits,
        "diffs": [],
        "compare_timeout": False,
        "compare_same_ref": False,
        "web_url": "https://gitlab.example.com/acme/api/-/compare/a...b",
    }


def config(forge: str, app: str) -> Any:
    return parse_config(
        f"version: 1\nforge: {forge}\nenvironments:\n  production: {{branch: production}}\napps:\n  api:\n{app}",
        "promoter.yaml",
    )


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def test_github_compare_with_source_ref_newest_first_and_the_forge_token() -> None:
    cfg = config(
        "{type: github, project: acme/environments}",
        "    image: registry.example.com/acme/api\n    files: [values.yaml]\n"
        "    source_repo: https://github.com/acme/api\n    source_ref: 'v{{ tag }}'\n",
    )
    url = "https://api.github.com/repos/acme/api/compare/v1.4.1...v1.4.2"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(url, json=github_compare(range(1, 4), 3))
        shipped = what_ships(
            cfg, [{"app": "api", "old": "1.4.1", "new": "1.4.2"}], {"GITHUB_TOKEN": GH_TOKEN}
        )
        assert len(api.calls) == 1
        assert query(api.calls[0]) == {"per_page": ["100"], "page": ["1"]}
        assert api.calls[0].request.headers["Authorization"] == f"Bearer {GH_TOKEN}"
    [ship] = shipped
    assert (ship.refs, ship.total, ship.more, ship.problem) == (("v1.4.1", "v1.4.2"), 3, 0, None)
    assert [(c.title, c.author) for c in ship.commits] == [
        ("change number 3", "dev3"),
        ("change number 2", "dev2"),
        ("change number 1", "dev1"),
    ]
    assert ship.commits[0].url == f"https://github.com/acme/api/commit/{3:040x}"
    assert ship.compare_url == "https://github.com/acme/api/compare/v1.4.1...v1.4.2"


def test_github_many_commits_reads_the_last_page_for_the_newest() -> None:
    cfg = config(
        "{type: none}",
        "    image: registry.example.com/acme/api\n    files: [values.yaml]\n"
        "    source_repo: https://github.com/acme/api\n    source_ref: 'v{{ tag }}'\n",
    )
    url = "https://api.github.com/repos/acme/api/compare/v1.4.1...v1.4.2"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(url, json=github_compare(range(1, 101), 130))
        api.get(url, json=github_compare(range(101, 131), 130))
        [ship] = what_ships(cfg, [{"app": "api", "old": "1.4.1", "new": "1.4.2"}], {"GITHUB_TOKEN": GH_TOKEN})
        assert [query(call)["page"] for call in api.calls] == [["1"], ["2"]]
        assert all("Authorization" not in call.request.headers for call in api.calls)  # no forge configured
    assert len(ship.commits) == SHIPPED_PER_APP and ship.more == 110
    assert ship.commits[0].title == "change number 130" and ship.commits[-1].title == "change number 111"


def test_gitlab_compare_between_the_image_revisions(registry_server: RegistryServer) -> None:
    host = registry_server.base_url.split("://", 1)[1]
    old, new = "1" * 40, "2" * 40
    push_labelled(registry_server.base_url, "ships/api", "1.4.1", {"org.opencontainers.image.revision": old})
    push_labelled(registry_server.base_url, "ships/api", "1.4.2", {"org.opencontainers.image.revision": new})
    cfg = config(
        '{type: gitlab, url: "https://gitlab.example.com", project: acme/environments}',
        f"    image: {host}/ships/api\n    files: [values.yaml]\n"
        "    source_repo: https://gitlab.example.com/acme/api\n",
    )
    url = "https://gitlab.example.com/api/v4/projects/acme%2Fapi/repository/compare"
    shas = [f"{n:040x}" for n in range(1, 26)]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.add_passthru(registry_server.base_url)
        api.get(url, json=gitlab_compare(shas))
        [ship] = what_ships(cfg, [{"app": "api", "old": "1.4.1", "new": "1.4.2"}], {"GITLAB_TOKEN": GL_TOKEN})
        compare = [call for call in api.calls if call.request.url.startswith(url)]
        assert len(compare) == 1
        assert query(compare[0]) == {"from": [old], "to": [new]}
        assert compare[0].request.headers["PRIVATE-TOKEN"] == GL_TOKEN
    assert ship.refs == (old, new) and ship.total == 25 and ship.more == 5
    assert ship.commits[0] == ShippedCommit(
        shas[-1], "feat: step 24", "Ann 24", f"https://gitlab.example.com/acme/api/-/commit/{shas[-1]}"
    )
    assert ship.compare_url == f"https://gitlab.example.com/acme/api/-/compare/{old}...{new}"


def test_no_token_for_another_host_and_a_failing_compare_is_said_not_raised() -> None:
    cfg = config(
        '{type: gitlab, url: "https://gitlab.example.com", project: acme/environments}',
        "    image: registry.example.com/acme/api\n    files: [values.yaml]\n"
        "    source_repo: https://gitlab.com/other/api\n    source_ref: '{{ tag }}'\n",
    )
    url = "https://gitlab.com/api/v4/projects/other%2Fapi/repository/compare"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(url, status=404, json={"message": "404 Project Not Found"})
        [ship] = what_ships(cfg, [{"app": "api", "old": "1.4.1", "new": "1.4.2"}], {"GITLAB_TOKEN": GL_TOKEN})
        assert "PRIVATE-TOKEN" not in api.calls[0].request.headers
    assert ship.commits == () and ship.problem is not None and "no such refs" in ship.problem
    assert ship.compare_url == "https://gitlab.com/other/api/-/compare/1.4.1...1.4.2"
    unknown = config(
        "{type: none}",
        "    image: registry.example.com/acme/api\n    files: [values.yaml]\n"
        "    source_repo: https://git.example.org/acme/api\n    source_ref: '{{ tag }}'\n",
    )
    [ship] = what_ships(unknown, [{"app": "api", "old": "1", "new": "2"}], {})
    assert ship.problem == "not a GitHub or GitLab repository promoter knows"
    assert what_ships(unknown, [{"app": "api", "old": None, "new": "2"}], {}) == []  # nothing to compare


def _body(shipments: list[Shipment], limit: int | None = None, diff: str = "") -> str:
    data = BodyInput(
        kind="promote",
        env="production",
        target_branch="production",
        branch="promoter/promote-staging-to-production",
        rows=[{"app": s.app, "old": s.old, "new": s.new} for s in shipments],
        diff=diff,
        ci=CiContext(),
        source_env="staging",
        forge_kind="github",
        shipments=shipments,
    )
    return render_body(data, limit=limit)


def ship(app: str, commits: int, total: int | None = None) -> Shipment:
    url = f"https://github.com/acme/{app}/compare/1.0.0...2.0.0"
    rows = tuple(
        ShippedCommit(
            f"{n:040x}",
            f"{app} change {n} " + "x" * 60,
            "dev",
            f"https://github.com/acme/{app}/commit/{n:040x}",
        )
        for n in range(commits)
    )
    return Shipment(app, "1.0.0", "2.0.0", url, rows, total if total is not None else commits)


def test_the_body_lists_what_ships_with_and_n_more() -> None:
    body = _body([ship("api", 2, total=9), Shipment("web", "1", "2", None, problem="not listed here")])
    assert "#### What ships" in body
    assert (
        "**api** `1.0.0` → `2.0.0`: 9 commits, [compare](https://github.com/acme/api/compare/1.0.0...2.0.0)"
        in body
    )
    assert f"- [`{0:012x}`](https://github.com/acme/api/commit/{0:040x}) api change 0 " in body
    assert "- and 7 more: [the full comparison](https://github.com/acme/api/compare/1.0.0...2.0.0)" in body
    assert "**web** `1` → `2`: commits not listed (not listed here)" in body


def test_a_body_over_the_forge_limit_is_cut_at_a_row_boundary() -> None:
    apps = [ship(f"app{n:03d}", SHIPPED_PER_APP, total=40) for n in range(60)]  # about 140,000 characters
    body = _body(apps, diff="-a\n+b\n" * 5000)
    assert len(body) <= 65_536
    lines = body.splitlines()
    cut = next(line for line in lines if line.startswith("_The list is cut to fit GitHub's size limit"))
    before = lines[lines.index(cut) - 1]
    assert before == "" or before.startswith(("- [", "**app", "- and "))  # a whole row, never half of one
    assert before.endswith((")", "")) and "x" * 60 in "\n".join(lines[: lines.index(cut)])
    assert "[comparison](https://github.com/acme/app" in cut
    assert "of 10000 lines shown" in body.split(cut)[1]  # the diff was cut first, to what room is left
    small = _body(apps[:1], limit=2_000)
    assert len(small) <= 2_000 and "_The list is cut to fit" in small
    for line in small.splitlines():
        assert not line.startswith("- [") or line.endswith(")") or line.endswith("(dev)")


@pytest.mark.parametrize(("forge", "limit"), [("github", 65_536), ("gitlab", 1_048_576)])
def test_forge_limits(forge: str, limit: int) -> None:
    from promoter.workflows.request_body import BODY_LIMITS

    assert BODY_LIMITS[forge] == limit


def test_a_refused_compare_never_shows_the_token(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    cfg = config(
        '{type: github, url: "https://github.com", project: acme/environments}',
        "    image: registry.example.com/acme/api\n    files: [values.yaml]\n"
        "    source_repo: https://github.com/acme/api\n    source_ref: 'v{{ tag }}'\n",
    )
    url = "https://api.github.com/repos/acme/api/compare/v1.4.1...v1.4.2"
    with caplog.at_level(logging.DEBUG), responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        api.get(url, status=401, json={"message": f"Bad credentials {GH_TOKEN}"})
        [ship] = what_ships(cfg, [{"app": "api", "old": "1.4.1", "new": "1.4.2"}], {"GITHUB_TOKEN": GH_TOKEN})
    assert ship.problem == "https://github.com/acme/api answered HTTP 401 to the comparison"
    body = _body([ship])
    assert GH_TOKEN not in body and GH_TOKEN not in caplog.text and GH_TOKEN not in str(ship.as_dict())
