"""The body of an approval merge/pull request: a version table, the diff, who asked, hidden metadata.

Every string that comes from outside promoter (app names and tags from the env repo, CI titles, branch
names, user names) is escaped for Markdown, so it can neither format the body nor mention people. The
metadata comment sits on the first line so a body cut to the forge's size limit still carries it;
:func:`parse_metadata` reads it back (``status`` shows pending requests with it, ``promote`` gates on it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from promoter.ci import CiContext

if TYPE_CHECKING:  # pragma: no cover
    from promoter.workflows.shipping import Shipment

#: Longest body each forge accepts, in characters: GitLab's ``Issuable::DESCRIPTION_LENGTH_MAX`` (1 MiB),
#: GitHub's pull request body limit ("body is too long (maximum is 65536 characters)").
BODY_LIMITS: dict[str, int] = {"gitlab": 1_048_576, "github": 65_536}
DEFAULT_LIMIT = 65_536
METADATA_VERSION = 1
_METADATA_RE = re.compile(r"<!-- promoter:metadata (\{.*?\}) -->", re.DOTALL)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~@&$:])")


def escape_md(text: object) -> str:
    """``text`` as literal Markdown inline text: one line, every formatting character backslash-escaped."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def code_span(text: object) -> str:
    """``text`` as an inline code span (safe for any content except line breaks, which become spaces)."""
    flat = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{fence}{pad}{flat}{pad}{fence}".replace("|", "\\|")


def _safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link target, or None."""
    if not url or not re.fullmatch(r"https?://[^\s<>()\[\]\"'`]+", url):
        return None
    return url


def md_link(label: str, url: str | None) -> str:
    safe = _safe_url(url)
    return f"[{label}]({safe})" if safe else label


@dataclass
class BodyInput:
    """What a request body says. ``rows``: ``{"app", "old", "new", "image"}`` per app (old may be None)."""

    kind: str  # "bump" | "promote"
    env: str
    target_branch: str
    branch: str
    rows: Sequence[Mapping[str, Any]]
    diff: str
    ci: CiContext
    source_env: str | None = None
    source_repos: Mapping[str, str] = field(default_factory=dict)  # app -> web URL of its repo
    forge_kind: str = "gitlab"
    compare_url: str | None = None  # env repo: target branch ... approval branch
    commit: str | None = None
    notes: Sequence[str] = ()  # paragraphs after the table (overrides, holds, skipped apps), plain text
    shipments: Sequence[Shipment] = ()  # what ships: application commits per app


def metadata(data: BodyInput) -> dict[str, Any]:
    return {
        "version": METADATA_VERSION,
        "kind": data.kind,
        "env": data.env,
        "source_env": data.source_env,
        "branch": data.branch,
        "target_branch": data.target_branch,
        "commit": data.commit,
        "apps": {str(row["app"]): {"old": row.get("old"), "new": row.get("new")} for row in data.rows},
    }


def metadata_comment(meta: Mapping[str, Any]) -> str:
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    # no '<', '>' or '&' inside the comment: an untrusted value cannot close it
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"<!-- promoter:metadata {text} -->"


def parse_metadata(body: str | None) -> dict[str, Any] | None:
    """The metadata promoter wrote into a request body, or None when there is none (or it is damaged)."""
    match = _METADATA_RE.search(body or "")
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("apps"), dict) else None


def _app_links(repo: str | None, old: str | None, new: str | None, forge_kind: str) -> str:
    base = _safe_url(repo.rstrip("/") if repo else None)
    if not base or not new:
        return ""
    sep = "/-/" if forge_kind == "gitlab" else "/"
    if old and old != new:
        return md_link("compare", f"{base}{sep}compare/{quote(old, safe='')}...{quote(new, safe='')}")
    return md_link("commits", f"{base}{sep}commits/{quote(new, safe='')}")


def _table(data: BodyInput) -> list[str]:
    links = any(data.source_repos.get(str(row["app"])) for row in data.rows)
    header = "| app | from | to |" + (" changes |" if links else "")
    rule = "|---|---|---|" + ("---|" if links else "")
    lines = [header, rule]
    for row in data.rows:
        app = str(row["app"])
        old, new = row.get("old"), row.get("new")
        cells = [escape_md(app), code_span(old) if old else "_(none)_", code_span(new) if new else "_(none)_"]
        if links:
            shipped = next((s.compare_url for s in data.shipments if s.app == app and s.compare_url), None)
            link = md_link("compare", shipped) if shipped else None
            cells.append(link or _app_links(data.source_repos.get(app), old, new, data.forge_kind))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _requested_by(ci: CiContext) -> list[str]:
    parts: list[str] = []
    if ci.actor:
        parts.append(f"by {escape_md(ci.actor)}")
    if ci.pipeline_url or ci.pipeline_id is not None:
        label = f"pipeline {ci.pipeline_id}" if ci.pipeline_id is not None else "pipeline"
        parts.append(f"in {md_link(escape_md(label), ci.pipeline_url)}")
    if ci.source_repo or ci.commit:
        label = escape_md(ci.commit[:12]) if ci.commit else escape_md(ci.source_repo)
        url = f"{ci.source_repo.rstrip('/')}" if ci.source_repo else None
        if url and ci.commit:
            url += ("/-/commit/" if ci.system == "gitlab" else "/commit/") + quote(ci.commit, safe="")
        parts.append(f"from {md_link(label, url)}")
    if ci.request_id is not None and ci.request_title:
        parts.append(f"for {md_link(escape_md(ci.request_title), ci.request_url)}")
    systems = {"local": "a local run", "gitlab": "GitLab CI", "github": "GitHub Actions"}
    where = systems.get(ci.system, escape_md(ci.system))
    return [f"Requested {' '.join(parts)} ({where})." if parts else f"Requested from {where}."]


def _fence(diff: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", diff)), default=0)
    return "`" * max(3, longest + 1)


def _shipping_rows(data: BodyInput) -> list[tuple[str, str | None]]:
    """The "What ships" section as (line, compare URL of its app): cut only between rows."""
    if not data.shipments:
        return []
    rows: list[tuple[str, str | None]] = [("#### What ships", None), ("", None)]
    for shipment in data.shipments:
        url = shipment.compare_url
        compare = f", {md_link('compare', url)}" if url else ""
        head = f"**{escape_md(shipment.app)}** {code_span(shipment.old)} → {code_span(shipment.new)}"
        if shipment.problem:
            rows.append((f"{head}: commits not listed ({escape_md(shipment.problem)}){compare}", url))
        else:
            count = f"{shipment.total} commit{'s' if shipment.total != 1 else ''}"
            rows.append((f"{head}: {count}{compare}", url))
            for commit in shipment.commits:
                label = md_link(code_span(commit.sha[:12]), commit.url)
                author = f" ({escape_md(commit.author)})" if commit.author else ""
                rows.append((f"- {label} {escape_md(commit.title)}{author}", url))
            if shipment.more:
                rows.append((f"- and {shipment.more} more: {md_link('the full comparison', url)}", url))
        rows.append(("", None))
    return rows


def _shipping_text(rows: list[tuple[str, str | None]], room: int, forge: str) -> str:
    """The section in at most ``room`` characters, cut between rows with links to what was left out."""
    full = "".join(line + "\n" for line, _ in rows)
    if len(full) <= room:
        return full
    reserve = len(_cut_note(list(dict.fromkeys(url for _, url in rows if url)), forge)) + 1
    kept: list[str] = []
    used = 0
    left_out: dict[str, None] = {}
    for line, url in rows:
        if not left_out and used + len(line) + 1 + reserve <= room:
            kept.append(line)
            used += len(line) + 1
            continue
        left_out.setdefault(url or "", None)
    text = "".join(line + "\n" for line in kept) + _cut_note([u for u in left_out if u], forge) + "\n"
    return text if len(text) <= room else ""


def _cut_note(urls: list[str], forge: str) -> str:
    shown = ", ".join(md_link("comparison", url) for url in urls[:10])
    more = f" and {len(urls) - 10} more" if len(urls) > 10 else ""
    where = {"github": "GitHub's", "gitlab": "GitLab's"}.get(forge, "the forge's")
    return f"_The list is cut to fit {where} size limit; the full comparison: {shown}{more}._\n"


def render_body(data: BodyInput, *, limit: int | None = None) -> str:
    """The request body, at most ``limit`` characters (default: the forge's limit). The diff is cut
    first, then the "What ships" list (between rows, with links to the full comparisons)."""
    limit = limit or BODY_LIMITS.get(data.forge_kind, DEFAULT_LIMIT)
    if data.kind == "promote" and data.source_env:
        intro = (
            f"Promotes what runs in **{escape_md(data.source_env)}** to **{escape_md(data.env)}** "
            f"(branch {code_span(data.target_branch)})."
        )
    else:
        intro = f"Changes **{escape_md(data.env)}** (branch {code_span(data.target_branch)})."
    table = [*_table(data), ""] if data.rows else []
    notes = [line for note in data.notes for line in (escape_md(note), "")]
    head = [metadata_comment(metadata(data)), intro, "", *table, *notes]
    tail = ["", *_requested_by(data.ci), ""]
    tail.append(
        f"Merge to deploy; close to discard. promoter updates this request in place from branch "
        f"{code_span(data.branch)}."
    )
    before = "\n".join(head) + "\n"
    after = "\n".join(tail) + "\n"
    shipping = _shipping_rows(data)
    if shipping:
        diff_note_reserve = 400 if data.diff else 0  # room left for "Diff truncated ..." at least
        before += _shipping_text(
            shipping, limit - len(before) - len(after) - diff_note_reserve, data.forge_kind
        )
    if not data.diff:
        return _cut(before + after, limit)
    fence = _fence(data.diff)
    opening, closing = f"<details><summary>Diff</summary>\n\n{fence}diff\n", f"{fence}\n\n</details>\n"
    room = limit - len(before) - len(after) - len(opening) - len(closing)
    diff = data.diff if data.diff.endswith("\n") else data.diff + "\n"
    if len(diff) > room:
        total = diff.count("\n")
        see = md_link("the full comparison", data.compare_url) if data.compare_url else "the branch"
        note_template = "\n_Diff truncated: {shown} of {total} lines shown; see {see}._\n"
        budget = room - len(note_template.format(shown=total, total=total, see=see))
        cut = diff[: max(budget, 0)]
        cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else ""
        shown = cut.count("\n")
        note = note_template.format(shown=shown, total=total, see=see)
        return _cut(before + opening + cut + closing + note + after, limit)
    return _cut(before + opening + diff + closing + after, limit)


def _cut(body: str, limit: int) -> str:
    """Last resort for an enormous table: keep the start (metadata first) and say so."""
    if len(body) <= limit:
        return body
    note = "\n\n_Truncated to the forge's size limit._\n"
    return body[: limit - len(note)] + note
