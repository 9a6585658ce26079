"""What ships: the application commits between the version an environment runs and the one a request
brings, for the approver to read.

For an app with ``source_repo`` each version becomes a ref of that repository: ``source_ref`` rendered
with the tag (``v{{ tag }}``), else the commit the image was built from (its
``org.opencontainers.image.revision`` label, read from the registry), else the tag itself. The forge's
compare API lists the commits between the two refs (GitHub ``GET /repos/{owner}/{repo}/compare/{base}...
{head}``, GitLab ``GET /projects/:id/repository/compare?from=&to=``); the newest ``SHIPPED_PER_APP`` are
shown, with "and N more" linking the full comparison.

A token is sent only to the forge promoter.yaml names (same host); other hosts are asked anonymously.
Nothing here fails a delivery: a compare that cannot be read is said in the body, and the request is
opened all the same.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from promoter import masking
from promoter.config import App, Config
from promoter.errors import PromoterError

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from promoter.registry import RegistryClient

__all__ = ["SHIPPED_PER_APP", "Shipment", "ShippedCommit", "what_ships"]

LOG = logging.getLogger("promoter.shipping")
SHIPPED_PER_APP = 20
REVISION_LABEL = "org.opencontainers.image.revision"
_TIMEOUT = (5.0, 20.0)
_GITHUB_PAGE = 100
_WORKERS = 8  # apps looked up at once (each: two registry lookups and one or two compare calls)


@dataclass(frozen=True)
class ShippedCommit:
    sha: str
    title: str
    author: str
    url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"sha": self.sha, "title": self.title, "author": self.author, "url": self.url}


@dataclass(frozen=True)
class Shipment:
    """The commits one app's change ships (newest first, at most :data:`SHIPPED_PER_APP`)."""

    app: str
    old: str
    new: str
    compare_url: str | None = None  # web page of the full comparison
    commits: tuple[ShippedCommit, ...] = ()
    total: int = 0
    problem: str | None = None  # why the commits are not listed
    refs: tuple[str, str] = ("", "")

    @property
    def more(self) -> int:
        return max(self.total - len(self.commits), 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "old": self.old,
            "new": self.new,
            "refs": list(self.refs),
            "compare_url": self.compare_url,
            "total": self.total,
            "commits": [commit.as_dict() for commit in self.commits],
            "problem": self.problem,
        }


@dataclass
class _Repo:
    kind: str  # "github" | "gitlab"
    web: str  # https://host/owner/repo
    api: str  # API root
    project: str  # owner/repo, group/sub/project
    token: str | None = None


@dataclass
class _Context:
    """What the lookups share; the HTTP session and the registry client are one per worker thread."""

    config: Config
    environ: Mapping[str, str]
    http: requests.Session | None = None  # given by the caller (tests): used by every thread
    registry_client: RegistryClient | None = None
    revisions: dict[str, str | None] = field(default_factory=dict)
    local: threading.local = field(default_factory=threading.local)

    @property
    def session(self) -> requests.Session:
        if self.http is not None:
            return self.http
        session = getattr(self.local, "session", None)
        if session is None:
            from promoter.forge._http import make_session

            session = self.local.session = make_session()
        return session

    @property
    def registry(self) -> RegistryClient:
        if self.registry_client is not None:
            return self.registry_client
        client = getattr(self.local, "registry", None)
        if client is None:
            from promoter.registry import RegistryClient

            client = self.local.registry = RegistryClient(environ=self.environ)
        return client


def what_ships(
    config: Config,
    rows: Sequence[Mapping[str, Any]],
    environ: Mapping[str, str],
    *,
    http: requests.Session | None = None,
    registry: RegistryClient | None = None,
) -> list[Shipment]:
    """A :class:`Shipment` for every row (``{"app", "old", "new"}``) whose app has ``source_repo`` and
    whose version changes from one known version to another."""
    context = _Context(config, environ, http, registry)
    wanted = []
    for row in rows:
        app = config.apps.get(str(row.get("app")))
        old, new = row.get("old"), row.get("new")
        if app is None or not app.source_repo or not old or not new or old == new or "," in str(old):
            continue
        wanted.append((app, str(old), str(new)))
    if len(wanted) <= 1:
        return [_shipment(context, *args) for args in wanted]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(wanted)), thread_name_prefix="ships") as pool:
        return list(pool.map(lambda args: _shipment(context, *args), wanted))


def _shipment(context: _Context, app: App, old: str, new: str) -> Shipment:
    repo = _source(context, app.source_repo or "")
    if repo is None:
        return Shipment(app.name, old, new, problem="not a GitHub or GitLab repository promoter knows")
    try:
        base, head = _ref(context, app, old), _ref(context, app, new)
    except PromoterError as exc:
        return Shipment(app.name, old, new, problem=exc.message)
    compare = _compare_page(repo, base, head)
    try:
        commits, total = (_github if repo.kind == "github" else _gitlab)(context, repo, base, head)
    except PromoterError as exc:
        LOG.warning("what ships for %s: %s", app.name, exc.message)
        return Shipment(app.name, old, new, compare, problem=exc.message, refs=(base, head))
    return Shipment(app.name, old, new, compare, tuple(commits[:SHIPPED_PER_APP]), total, refs=(base, head))


# -- refs -----------------------------------------------------------------------------------------------
def _ref(context: _Context, app: App, version: str) -> str:
    tag, _, digest = version.partition("@")
    if app.source_ref:
        return _render_ref(app, tag, context.config.source)
    revision = _revision(context, app, tag, digest or None)
    return revision or tag


def _render_ref(app: App, tag: str, source: str) -> str:
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from promoter.errors import ConfigError

    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    try:
        text = environment.from_string(app.source_ref or "").render(tag=tag, app=app.name)
    except TemplateError as exc:
        raise ConfigError(f"apps.{app.name}.source_ref does not render: {exc}", where=source) from None
    return text.strip()


def _revision(context: _Context, app: App, tag: str, digest: str | None) -> str | None:
    """The commit the image was built from (its revision label), or None when the registry does not say."""
    from promoter.imageref import ImageRef

    ref = ImageRef.parse(app.image).with_version(tag, digest)
    key = str(ref)
    if key not in context.revisions:
        try:
            value = context.registry.image_labels(ref).get(REVISION_LABEL)
            context.revisions[key] = value.strip() if isinstance(value, str) and value.strip() else None
        except PromoterError as exc:
            LOG.info("no revision label for %s: %s", key, exc.message)
            context.revisions[key] = None
    return context.revisions[key]


# -- which forge ----------------------------------------------------------------------------------------
def _source(context: _Context, url: str) -> _Repo | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path.strip("/").removesuffix(".git")
    if parts.scheme not in ("http", "https") or not host or "/" not in path:
        return None
    web = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/{path}"
    forge = context.config.forge
    kind, api = None, None
    if forge.type in ("github", "gitlab"):
        mine, mine_api = _configured(context, forge.type)
        if host == mine:
            kind, api = forge.type, mine_api
    if kind is None and host == "github.com":
        kind, api = "github", "https://api.github.com"
    if kind is None and host == "gitlab.com":
        kind, api = "gitlab", "https://gitlab.com/api/v4"
    if kind is None or api is None:
        return None
    token = None
    if forge.type == kind and host == _configured(context, kind)[0]:
        from promoter.forge import resolve_token

        token, _ = resolve_token(kind, context.environ)
        masking.register_secret(token)
    return _Repo(kind, web, api.rstrip("/"), path, token)


def _configured(context: _Context, kind: str) -> tuple[str, str]:
    """(host, API root) of the forge promoter.yaml names."""
    from promoter.forge import github_urls, gitlab_url

    url = context.config.forge.url
    if kind == "github":
        api, web = github_urls(url, context.environ)
        return (urlsplit(web).hostname or "").lower(), api
    base = gitlab_url(url, context.environ).rstrip("/")
    return (urlsplit(base).hostname or "").lower(), f"{base}/api/v4"


def _compare_page(repo: _Repo, base: str, head: str) -> str:
    sep = "/-/" if repo.kind == "gitlab" else "/"
    return f"{repo.web}{sep}compare/{quote(base, safe='')}...{quote(head, safe='')}"


# -- the compare APIs -----------------------------------------------------------------------------------
def _get(context: _Context, repo: _Repo, url: str, params: dict[str, Any]) -> Any:
    from promoter.errors import ForgeError

    headers = {"Accept": "application/json", "User-Agent": "promoter"}
    if repo.token:
        headers["Authorization" if repo.kind == "github" else "PRIVATE-TOKEN"] = (
            f"Bearer {repo.token}" if repo.kind == "github" else repo.token
        )
    if repo.kind == "github":
        headers["Accept"] = "application/vnd.github+json"
    try:
        response = context.session.get(url, params=params, headers=headers, timeout=_TIMEOUT)
    except Exception as exc:  # requests' and urllib3's errors alike: never fail the delivery
        raise ForgeError(masking.mask(f"cannot compare in {repo.web}: {type(exc).__name__}")) from None
    if response.status_code == 404:
        raise ForgeError(f"{repo.web} has no such refs to compare (or is not visible to this token)")
    if response.status_code >= 400:
        raise ForgeError(f"{repo.web} answered HTTP {response.status_code} to the comparison")
    try:
        return response.json()
    except ValueError:
        raise ForgeError(f"{repo.web} answered the comparison with something that is not JSON") from None


def _github(context: _Context, repo: _Repo, base: str, head: str) -> tuple[list[ShippedCommit], int]:
    """``GET /repos/{owner}/{repo}/compare/{base}...{head}``: commits oldest first, ``total_commits``;
    pages of 100: the last page holds the newest."""
    url = f"{repo.api}/repos/{repo.project}/compare/{quote(base, safe='')}...{quote(head, safe='')}"
    data = _get(context, repo, url, {"per_page": _GITHUB_PAGE, "page": 1})
    total = int(data.get("total_commits") or 0)
    items = list(data.get("commits") or [])
    if total > len(items):
        last = -(-total // _GITHUB_PAGE)
        page = _get(context, repo, url, {"per_page": _GITHUB_PAGE, "page": last})
        items = list(page.get("commits") or []) if last > 1 else items
        if len(items) < SHIPPED_PER_APP and last > 1:  # the last page is short: the one before fills it
            before = _get(context, repo, url, {"per_page": _GITHUB_PAGE, "page": last - 1})
            items = list(before.get("commits") or []) + items
    commits = []
    for item in reversed(items):
        detail = item.get("commit") or {}
        author = (item.get("author") or {}).get("login") or (detail.get("author") or {}).get("name") or ""
        commits.append(
            ShippedCommit(
                sha=str(item.get("sha") or ""),
                title=str(detail.get("message") or "").splitlines()[0] if detail.get("message") else "",
                author=str(author),
                url=item.get("html_url") or f"{repo.web}/commit/{item.get('sha')}",
            )
        )
    return commits, max(total, len(commits))


def _gitlab(context: _Context, repo: _Repo, base: str, head: str) -> tuple[list[ShippedCommit], int]:
    """``GET /projects/:id/repository/compare?from=&to=``: every commit (newest first after sorting)."""
    url = f"{repo.api}/projects/{quote(repo.project, safe='')}/repository/compare"
    data = _get(context, repo, url, {"from": base, "to": head})
    items = sorted(
        data.get("commits") or [], key=lambda item: str(item.get("created_at") or ""), reverse=True
    )
    commits = [
        ShippedCommit(
            sha=str(item.get("id") or ""),
            title=str(item.get("title") or ""),
            author=str(item.get("author_name") or ""),
            url=item.get("web_url") or f"{repo.web}/-/commit/{item.get('id')}",
        )
        for item in items
    ]
    return commits, len(commits)
