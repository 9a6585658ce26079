"""What a delivery says: the forge's authentication, and a close or merge event read from its body.

GitLab authenticates with the ``X-Gitlab-Token`` shared secret, GitHub with ``X-Hub-Signature-256``
(HMAC-SHA256 of the raw body). Only after that is the body looked at: a merge request (GitLab) or pull
request (GitHub) that was closed or merged becomes a :class:`CloseEvent`; other actions are ignored and a
payload that lacks a field promoter needs is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Literal

Forge = Literal["gitlab", "github"]


class PayloadError(Exception):
    """The body is not the payload it claims to be (HTTP 400)."""


@dataclass(frozen=True)
class CloseEvent:
    """A merge or pull request that was closed or merged."""

    forge: Forge
    project: str
    """``group/project`` (GitLab ``path_with_namespace``) or ``owner/repo`` (GitHub ``full_name``)."""
    request_id: int
    """GitLab merge request IID or GitHub pull request number."""
    action: Literal["closed", "merged"]
    source_branch: str
    delivery_id: str | None = None
    updated_at: str | None = None
    """When the forge last changed the request (the event's ``updated_at``, UTC, ISO 8601), if it said."""

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _EVENT_FIELDS}

    @cached_property
    def key(self) -> tuple[str, str, int]:
        """Deliveries with the same key are about the same request (duplicates coalesce)."""
        return (self.forge, self.project.casefold(), self.request_id)

    @cached_property
    def moment(self) -> float | None:
        """``updated_at`` as seconds since the epoch (None when the event did not say)."""
        parsed = parse_event_time(self.updated_at) if self.updated_at else None
        return None if parsed is None else parsed.timestamp()


_EVENT_FIELDS = tuple(name for name in CloseEvent.__dataclass_fields__)


# --- payload fields ------------------------------------------------------------------------------------
def _field(payload: Any, *path: str) -> Any:
    value = payload
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise PayloadError(f"payload lacks {'.'.join(path)}")
        value = value[key]
    return value


def _string(payload: Any, *path: str) -> str:
    value = _field(payload, *path)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"payload field {'.'.join(path)} is not a string")
    return value


def _number(payload: Any, *path: str) -> int:
    value = _field(payload, *path)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PayloadError(f"payload field {'.'.join(path)} is not a positive integer")
    return value


def _moment(payload: Any, *path: str) -> str | None:
    """An optional timestamp field, normalised to UTC ISO 8601; present but unreadable is an error."""
    try:
        value = _field(payload, *path)
    except PayloadError:
        return None
    if value is None:
        return None
    moment = parse_event_time(value) if isinstance(value, str) else None
    if moment is None:
        raise PayloadError(f"payload field {'.'.join(path)} is not a timestamp")
    return moment.isoformat().replace("+00:00", "Z")


def parse_event_time(text: str) -> datetime | None:
    """``2013-12-03T17:23:34Z``, ``2013-12-03T17:23:34.618+01:00`` or GitLab's ``2013-12-03 17:23:34
    UTC`` -> an aware UTC datetime; None when the text is none of these."""
    value = text.strip()
    if value.endswith(" UTC"):
        value = value[:-4].replace(" ", "T", 1) + "+00:00"
    elif value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if len(value) < 19 or value[10] not in "Tt ":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def gitlab_close_event(payload: Any, delivery_id: str | None = None) -> CloseEvent | None:
    """A GitLab merge request event -> a CloseEvent, or None for other actions (open, update, ...)."""
    action = _field(payload, "object_attributes", "action") if isinstance(payload, dict) else None
    if action not in ("close", "merge"):
        return None
    return CloseEvent(
        forge="gitlab",
        project=_string(payload, "project", "path_with_namespace"),
        request_id=_number(payload, "object_attributes", "iid"),
        action="merged" if action == "merge" else "closed",
        source_branch=_string(payload, "object_attributes", "source_branch"),
        delivery_id=delivery_id,
        updated_at=_moment(payload, "object_attributes", "updated_at"),
    )


def github_close_event(payload: Any, delivery_id: str | None = None) -> CloseEvent | None:
    """A GitHub pull_request event -> a CloseEvent, or None for other actions (opened, synchronize, ...)."""
    if not isinstance(payload, dict) or payload.get("action") != "closed":
        return None
    merged = _field(payload, "pull_request", "merged")
    return CloseEvent(
        forge="github",
        project=_string(payload, "repository", "full_name"),
        request_id=_number(payload, "pull_request", "number"),
        action="merged" if merged is True else "closed",
        source_branch=_string(payload, "pull_request", "head", "ref"),
        delivery_id=delivery_id,
        updated_at=_moment(payload, "pull_request", "updated_at"),
    )


# --- authentication ------------------------------------------------------------------------------------
def github_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def authentic(
    forge: Forge,
    headers: Mapping[str, str],
    body: bytes,
    *,
    gitlab_token: str | None,
    github_secret: str | None,
) -> bool:
    """Does the delivery carry the right token (GitLab) or signature (GitHub)? Constant-time compare.

    ``headers`` are keyed by lower-cased name."""
    if forge == "gitlab":
        token = headers.get("x-gitlab-token")
        return bool(gitlab_token and token) and hmac.compare_digest(
            str(token).encode("utf-8", "surrogateescape"), str(gitlab_token).encode()
        )
    signature = headers.get("x-hub-signature-256")
    return bool(github_secret and signature) and hmac.compare_digest(
        str(signature).encode("utf-8", "surrogateescape"),
        github_signature(str(github_secret), body).encode(),
    )
