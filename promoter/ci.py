"""Where promoter runs (GitLab CI, GitHub Actions, or a terminal) and how it hands results back to the job.

:func:`detect` reads the CI system's predefined variables (and, on GitHub, the ``pull_request`` payload in
``GITHUB_EVENT_PATH``) into a :class:`CiContext`. Titles, branch names and authors are untrusted: they are
kept verbatim as data and never interpreted, expanded or written where they could change structure.

:func:`write_outputs` writes results for later steps: ``KEY=value`` lines to the file named by
``PROMOTER_DOTENV`` (for GitLab's ``artifacts:reports:dotenv``), ``name=value`` or heredoc blocks with a
random delimiter to ``$GITHUB_OUTPUT``, and a Markdown report to ``$GITHUB_STEP_SUMMARY``.

Other CI systems (or a local run that should record where a change came from) can set
``PROMOTER_SOURCE_REPO``, ``PROMOTER_SOURCE_COMMIT``, ``PROMOTER_PIPELINE_ID`` and ``PROMOTER_PIPELINE_URL``;
these override what was detected.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promoter import masking
from promoter.errors import InputError

__all__ = [
    "DEPLOY_OUTPUT_KEYS",
    "OUTPUT_KEYS",
    "CiContext",
    "detect",
    "github_output_name",
    "standard_outputs",
    "write_outputs",
]

LOG = logging.getLogger("promoter.ci")

OUTPUT_KEYS = ("PROMOTER_RESULT", "PROMOTER_COMMIT", "PROMOTER_MR_URL", "PROMOTER_ENV_URL")
#: written by a wait for the deployment (``promoter wait``, ``--wait``)
DEPLOY_OUTPUT_KEYS = ("PROMOTER_DEPLOY_STATUS", "PROMOTER_DEPLOY_REVISION", "PROMOTER_DEPLOY_SECONDS")
GITHUB_DEFAULT_SERVER = "https://github.com"
GITHUB_DEFAULT_API = "https://api.github.com"
DOTENV_MAX_BYTES = 5 * 1024  # GitLab rejects larger dotenv reports
_EVENT_MAX_BYTES = 25 * 1024 * 1024
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


@dataclass(frozen=True)
class CiContext:
    """What the CI system says about the pipeline that runs promoter. Every string is untrusted data."""

    system: str = "local"  # "gitlab" | "github" | "local"
    source_repo: str | None = None  # web URL of the app repo that built the image
    commit: str | None = None
    pipeline_id: int | None = None
    pipeline_url: str | None = None
    job_url: str | None = None
    ref: str | None = None  # branch or tag name
    default_branch: str | None = None
    actor: str | None = None
    request_id: int | None = None  # merge request IID / pull request number
    request_source_branch: str | None = None
    request_title: str | None = None
    request_author: str | None = None
    request_url: str | None = None
    server_url: str | None = None
    project: str | None = None  # group/project or owner/repo
    api_url: str | None = None

    @property
    def in_ci(self) -> bool:
        return self.system != "local"

    @property
    def is_request(self) -> bool:
        """True in a merge request / pull request pipeline."""
        return self.request_id is not None

    def trailers(self) -> dict[str, str]:
        """Git trailers that record where a change came from.

        ``Promoter-Source: <repo>@<sha>`` (or just ``<sha>``) and ``Promoter-Pipeline: <id>[ <url>]``: the
        first word of the pipeline trailer is the numeric id, which the downgrade guard compares.
        """
        out: dict[str, str] = {}
        if self.commit:
            source = f"{self.source_repo}@{self.commit}" if self.source_repo else self.commit
            out["Promoter-Source"] = _one_line(source)
        if self.pipeline_id is not None:
            value = str(self.pipeline_id)
            if self.pipeline_url:
                value += f" {self.pipeline_url}"
            out["Promoter-Pipeline"] = _one_line(value)
        return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -------------------------------------------------------------------------------------------------
# detection
# -------------------------------------------------------------------------------------------------
Getter = Callable[[str], "str | None"]


def detect(environ: Mapping[str, str] | None = None) -> CiContext:
    """The CI context from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value else None

    if get("GITLAB_CI") == "true":
        context = _gitlab(get)
    elif get("GITHUB_ACTIONS") == "true":
        context = _github(get)
    else:
        context = CiContext(system="local")
    return _overrides(context, get)


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if value.isascii() and value.isdigit():
        return int(value)
    LOG.warning("ignoring %s: %r is not a number", name, value[:40])
    return None


def _gitlab(get: Getter) -> CiContext:
    request_id = _int(get("CI_MERGE_REQUEST_IID"), "CI_MERGE_REQUEST_IID")
    project_url = get("CI_PROJECT_URL")
    request_url = None
    if request_id is not None:
        base = get("CI_MERGE_REQUEST_PROJECT_URL") or project_url
        request_url = f"{base}/-/merge_requests/{request_id}" if base else None
    return CiContext(
        system="gitlab",
        source_repo=project_url,
        commit=get("CI_COMMIT_SHA"),
        pipeline_id=_int(get("CI_PIPELINE_ID"), "CI_PIPELINE_ID"),
        pipeline_url=get("CI_PIPELINE_URL"),
        job_url=get("CI_JOB_URL"),
        ref=get("CI_COMMIT_REF_NAME") or get("CI_COMMIT_BRANCH") or get("CI_COMMIT_TAG"),
        default_branch=get("CI_DEFAULT_BRANCH"),
        actor=get("GITLAB_USER_LOGIN"),
        request_id=request_id,
        request_source_branch=get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") if request_id is not None else None,
        request_title=get("CI_MERGE_REQUEST_TITLE") if request_id is not None else None,
        # GitLab has no variable for the MR author; the user who triggered the MR pipeline is the best guess.
        request_author=get("GITLAB_USER_LOGIN") if request_id is not None else None,
        request_url=request_url,
        server_url=get("CI_SERVER_URL"),
        project=get("CI_PROJECT_PATH"),
        api_url=get("CI_API_V4_URL"),
    )


def _github(get: Getter) -> CiContext:
    server = (get("GITHUB_SERVER_URL") or GITHUB_DEFAULT_SERVER).rstrip("/")
    project = get("GITHUB_REPOSITORY")
    run_id = _int(get("GITHUB_RUN_ID"), "GITHUB_RUN_ID")
    repo_url = f"{server}/{project}" if project else None
    event_name = get("GITHUB_EVENT_NAME")
    payload = _event_payload(get("GITHUB_EVENT_PATH"))
    repository = _dict(payload.get("repository"))
    context = CiContext(
        system="github",
        source_repo=repo_url,
        commit=get("GITHUB_SHA"),
        pipeline_id=run_id,
        pipeline_url=f"{repo_url}/actions/runs/{run_id}" if repo_url and run_id is not None else None,
        job_url=None,  # GitHub exposes no job id to the steps of a job
        ref=get("GITHUB_REF_NAME") or _short_ref(get("GITHUB_REF")),
        default_branch=_str(repository.get("default_branch")),
        actor=get("GITHUB_ACTOR"),
        server_url=server,
        project=project,
        api_url=(get("GITHUB_API_URL") or GITHUB_DEFAULT_API).rstrip("/"),
    )
    pull = _dict(payload.get("pull_request"))
    if event_name in _PULL_REQUEST_EVENTS and pull:
        head = _dict(pull.get("head"))
        number = pull.get("number")
        context = replace(
            context,
            # GITHUB_SHA is the test merge commit; the head is what the developer pushed and was built.
            commit=_str(head.get("sha")) or context.commit,
            ref=_str(head.get("ref")) or get("GITHUB_HEAD_REF") or context.ref,
            request_id=number if isinstance(number, int) and not isinstance(number, bool) else None,
            request_source_branch=_str(head.get("ref")) or get("GITHUB_HEAD_REF"),
            request_title=_str(pull.get("title")),
            request_author=_str(_dict(pull.get("user")).get("login")),
            request_url=_str(pull.get("html_url")),
        )
    return context


def _short_ref(ref: str | None) -> str | None:
    if ref is None:
        return None
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _event_payload(path: str | None) -> dict[str, Any]:
    """The webhook payload GitHub stored for this run; anything unreadable is ignored with a warning."""
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_EVENT_MAX_BYTES + 1)
        if len(raw) > _EVENT_MAX_BYTES:
            raise ValueError("larger than 25 MB")
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        LOG.warning("ignoring GITHUB_EVENT_PATH %s: %s", path, exc)
        return {}
    return _dict(data)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _overrides(context: CiContext, get: Getter) -> CiContext:
    changes: dict[str, Any] = {}
    if get("PROMOTER_SOURCE_REPO"):
        changes["source_repo"] = get("PROMOTER_SOURCE_REPO")
    if get("PROMOTER_SOURCE_COMMIT"):
        changes["commit"] = get("PROMOTER_SOURCE_COMMIT")
    pipeline_id = _int(get("PROMOTER_PIPELINE_ID"), "PROMOTER_PIPELINE_ID")
    if pipeline_id is not None:
        changes["pipeline_id"] = pipeline_id
        changes["pipeline_url"] = get("PROMOTER_PIPELINE_URL")
    elif get("PROMOTER_PIPELINE_URL"):
        changes["pipeline_url"] = get("PROMOTER_PIPELINE_URL")
    return replace(context, **changes) if changes else context


# -------------------------------------------------------------------------------------------------
# outputs
# -------------------------------------------------------------------------------------------------
def standard_outputs(
    result: str, *, commit: str | None = None, mr_url: str | None = None, env_url: str | None = None
) -> dict[str, str]:
    """The four documented keys, every one present (empty when unknown) so later jobs can rely on them."""
    values = (result, commit, mr_url, env_url)
    return {key: value or "" for key, value in zip(OUTPUT_KEYS, values, strict=True)}


def github_output_name(key: str) -> str:
    """``PROMOTER_MR_URL`` -> ``mr-url``: workflows read ``steps.<id>.outputs.mr-url``.

    The same names as the outputs of promoter's GitHub Action (``action.yml``), so a step that runs promoter
    directly and one that uses the action are read alike.
    """
    short = key[len("PROMOTER_") :] if key.startswith("PROMOTER_") else key
    return short.lower().replace("_", "-")


def write_outputs(
    outputs: Mapping[str, str],
    *,
    summary_markdown: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Hand ``outputs`` to later steps of the pipeline; a no-op where no output file is configured.

    Values are masked first. Raises :class:`InputError` (exit 3) when a value cannot be represented in a
    GitLab dotenv report (a newline) or the report would exceed GitLab's 5 KB limit.
    """
    env = os.environ if environ is None else environ
    for key in outputs:
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"output name {key!r} must be letters, digits and '_'")
    values = {key: masking.mask(str(value)) for key, value in outputs.items()}
    if env.get("PROMOTER_DOTENV"):
        _write_dotenv(Path(env["PROMOTER_DOTENV"]), values)
    if env.get("GITHUB_OUTPUT"):
        _append(Path(env["GITHUB_OUTPUT"]), _github_output_text(values))
    if env.get("GITHUB_STEP_SUMMARY") and summary_markdown:
        text = masking.mask(summary_markdown)
        _append(Path(env["GITHUB_STEP_SUMMARY"]), text if text.endswith("\n") else text + "\n")


def _write_dotenv(path: Path, values: Mapping[str, str]) -> None:
    """Rewrite ``path``: our keys replaced in place, other keys kept (a job may call promoter twice)."""
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise InputError(
                f"output {key} has a line break, which a GitLab dotenv report cannot carry",
                where=str(path),
                hint="GitLab dotenv values are single lines",
            )
    lines: list[str] = []
    pending = dict(values)
    try:
        existing = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        existing = []
    for line in existing:
        if not line.strip():
            continue  # GitLab refuses empty lines
        key = line.split("=", 1)[0]
        lines.append(f"{key}={pending.pop(key)}" if key in pending else line)
    lines.extend(f"{key}={value}" for key, value in pending.items())
    text = "".join(f"{line}\n" for line in lines)
    size = len(text.encode("utf-8"))
    if size > DOTENV_MAX_BYTES:
        raise InputError(
            f"the dotenv report would be {size} bytes; GitLab accepts at most {DOTENV_MAX_BYTES}",
            where=str(path),
        )
    _atomic_write(path, text)


def _github_output_text(values: Mapping[str, str]) -> str:
    chunks: list[str] = []
    for key, value in values.items():
        name = github_output_name(key)
        if "\n" in value or "\r" in value:
            delimiter = _delimiter()
            while delimiter in value:
                delimiter = _delimiter()
            chunks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            chunks.append(f"{name}={value}\n")
    return "".join(chunks)


def _delimiter() -> str:
    return f"ghadelimiter_{secrets.token_hex(16)}"


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
