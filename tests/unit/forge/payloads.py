"""API payloads shaped like the official GitLab REST v4 and GitHub REST v3 documentation examples."""

from __future__ import annotations

from typing import Any

GITLAB_PROJECT_ID = 278964


def gitlab_user(user_id: int, username: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": username,
        "name": username.title(),
        "state": "active",
        "avatar_url": f"https://gitlab.example.com/uploads/-/system/user/avatar/{user_id}/avatar.png",
        "web_url": f"https://gitlab.example.com/{username}",
    }


def gitlab_mr(
    iid: int,
    *,
    source: str = "promoter/production/api",
    target: str = "production",
    title: str = "api: production -> 1.2.3",
    description: str = "body",
    state: str = "opened",
    labels: list[str] | None = None,
    reviewers: list[dict[str, Any]] | None = None,
    source_project_id: int = GITLAB_PROJECT_ID,
    web_root: str = "https://gitlab.example.com/gitlab/group/sub/project",
) -> dict[str, Any]:
    """One merge request as GET /projects/:id/merge_requests[/:iid] returns it."""
    return {
        "id": 100000 + iid,
        "iid": iid,
        "project_id": GITLAB_PROJECT_ID,
        "title": title,
        "description": description,
        "state": state,
        "created_at": "2024-06-27T09:14:43.618Z",
        "updated_at": "2024-06-27T10:02:11.002Z",
        "merged_by": None,
        "merged_at": "2024-06-27T11:00:00.000Z" if state == "merged" else None,
        "closed_at": None,
        "target_branch": target,
        "source_branch": source,
        "user_notes_count": 0,
        "upvotes": 0,
        "downvotes": 0,
        "author": gitlab_user(7, "promoter-bot"),
        "assignees": [],
        "assignee": None,
        "reviewers": reviewers or [],
        "source_project_id": source_project_id,
        "target_project_id": GITLAB_PROJECT_ID,
        "labels": labels or [],
        "draft": title.startswith("Draft:"),
        "work_in_progress": title.startswith("Draft:"),
        "milestone": None,
        "merge_when_pipeline_succeeds": False,
        "merge_status": "can_be_merged",
        "detailed_merge_status": "mergeable",
        "sha": "8888888888888888888888888888888888888888",
        "merge_commit_sha": None,
        "squash_commit_sha": None,
        "discussion_locked": None,
        "should_remove_source_branch": None,
        "force_remove_source_branch": True,
        "reference": f"!{iid}",
        "references": {"short": f"!{iid}", "relative": f"!{iid}", "full": f"group/sub/project!{iid}"},
        "web_url": f"{web_root}/-/merge_requests/{iid}",
        "time_stats": {"time_estimate": 0, "total_time_spent": 0},
        "squash": False,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": False,
        "blocking_discussions_resolved": True,
    }


def github_user(login: str, user_id: int = 1) -> dict[str, Any]:
    return {
        "login": login,
        "id": user_id,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": "https://github.com/images/error/octocat_happy.gif",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": "User",
        "site_admin": False,
    }


def github_pr(
    number: int,
    *,
    repo: str = "acme/environments",
    source: str = "promoter/production/api",
    target: str = "production",
    title: str = "api: production -> 1.2.3",
    body: str = "body",
    state: str = "open",
    merged: bool = False,
    labels: list[str] | None = None,
    head_repo: str | None = None,
    api: str = "https://api.github.com",
    web: str = "https://github.com",
) -> dict[str, Any]:
    """One pull request as GET /repos/{owner}/{repo}/pulls[/{number}] returns it."""
    head_repo = head_repo or repo

    def branch(ref: str, full_name: str) -> dict[str, Any]:
        return {
            "label": f"{full_name.split('/', maxsplit=1)[0]}:{ref}",
            "ref": ref,
            "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "user": github_user(full_name.split("/", maxsplit=1)[0]),
            "repo": {"id": 1296269, "full_name": full_name, "name": full_name.split("/")[1]},
        }

    return {
        "url": f"{api}/repos/{repo}/pulls/{number}",
        "id": 1000 + number,
        "node_id": f"PR_kwDOA{number:05d}",
        "html_url": f"{web}/{repo}/pull/{number}",
        "diff_url": f"{web}/{repo}/pull/{number}.diff",
        "issue_url": f"{api}/repos/{repo}/issues/{number}",
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": github_user("promoter-bot"),
        "body": body,
        "labels": [
            {
                "id": 208045946,
                "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
                "name": name,
                "color": "f29513",
                "default": False,
            }
            for name in labels or []
        ],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": "2024-06-27T09:14:43Z",
        "updated_at": "2024-06-27T10:02:11Z",
        "closed_at": "2024-06-27T11:00:00Z" if state == "closed" else None,
        "merged_at": "2024-06-27T11:00:00Z" if merged else None,
        "merge_commit_sha": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": branch(source, head_repo),
        "base": branch(target, repo),
        "author_association": "CONTRIBUTOR",
        "auto_merge": None,
        "draft": False,
    }
