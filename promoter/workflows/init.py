"""``promoter init``: scaffold ``promoter.yaml`` (from options or a scan of an env repo) and a CI snippet.

The file is rendered as text (with comments a person can follow), validated with
:func:`promoter.config.parse_config` before anything is written, and written atomically. A scan finds image
references with the same finders ``set-image`` uses, so every app it proposes is one promoter can edit.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from promoter.errors import ConfigError, InputError, PromoterError, UsageError

__all__ = [
    "AppDraft",
    "EnvSpec",
    "InitOptions",
    "InitResult",
    "ci_snippet",
    "parse_app_spec",
    "parse_env_spec",
    "render_config",
    "run_init",
    "scan_images",
]

CI_SYSTEMS = ("gitlab", "github")
_YAML_SUFFIXES = (".yaml", ".yml")
_SKIP_DIRS = {".git", "node_modules", ".terraform", "vendor"}
_ENV_PARENTS = ("envs", "environments", "overlays", "clusters")
# Usual promotion order of environment names found by a scan; unknown names sort after these.
_ENV_ORDER = ("dev", "development", "test", "qa", "stage", "staging", "uat", "preprod", "prod", "production")
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/@-]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


@dataclass(frozen=True)
class EnvSpec:
    name: str
    branch: str
    path: str = ""


@dataclass(frozen=True)
class AppDraft:
    name: str
    image: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class InitOptions:
    forge: str = "none"
    forge_url: str | None = None
    project: str | None = None
    repo: str | None = None
    environments: tuple[EnvSpec, ...] = ()
    approvals: tuple[str, ...] | None = None  # None: the last environment needs approval
    apps: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = ("values.yaml",)
    scan: Path | None = None
    previews: bool = True
    ci: str | None = None  # None: the forge's own CI system, if any; "": no snippet


@dataclass
class InitResult:
    path: Path
    text: str
    written: bool
    environments: list[str]
    apps: list[AppDraft]
    ci: str | None
    snippet: str | None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "written": self.written,
            "environments": self.environments,
            "apps": [{"name": a.name, "image": a.image, "files": list(a.files)} for a in self.apps],
            "ci": self.ci,
            "snippet": self.snippet,
            "config": self.text,
            "notes": self.notes,
        }


# -------------------------------------------------------------------------------------------------
# option parsing
# -------------------------------------------------------------------------------------------------
def parse_env_spec(text: str) -> EnvSpec:
    """``NAME[:BRANCH[:PATH]]``; the branch defaults to NAME."""
    parts = text.split(":", 2)
    name = parts[0].strip()
    branch = parts[1].strip() if len(parts) > 1 and parts[1].strip() else name
    path = parts[2].strip().strip("/") if len(parts) > 2 else ""
    if not name:
        raise UsageError(f"--env {text!r}: the name is empty", hint="write --env NAME[:BRANCH[:PATH]]")
    return EnvSpec(name, branch, path)


def parse_app_spec(text: str) -> tuple[str, str]:
    """``NAME=IMAGE`` (IMAGE without a tag)."""
    name, sep, image = text.partition("=")
    if not sep or not name.strip() or not image.strip():
        raise UsageError(
            f"--app {text!r} is not NAME=IMAGE", hint="for example --app api=registry.example.com/acme/api"
        )
    return name.strip(), image.strip()


# -------------------------------------------------------------------------------------------------
# scanning an env repo
# -------------------------------------------------------------------------------------------------
def _yaml_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        # os.walk never enters linked directories; linked files are skipped too (never read through a link)
        found.extend(
            Path(directory) / f
            for f in sorted(files)
            if f.endswith(_YAML_SUFFIXES) and not os.path.islink(os.path.join(directory, f))
        )
    return found


def scan_images(root: Path) -> dict[str, list[str]]:
    """Image repository (``registry/path`` as written, no tag) -> repo-relative files that reference it.

    Files that do not parse, or hold no image reference, are skipped: a scan proposes, it does not judge.
    """
    from promoter.imageref import ImageRef
    from promoter.yamledit.document import YamlDocument
    from promoter.yamledit.finders import find_sites

    if not root.is_dir():
        raise UsageError(f"--scan {str(root)!r} is not a directory", where=str(root))
    images: dict[str, list[str]] = {}
    canonical: dict[str, str] = {}
    for path in _yaml_files(root):
        relative = path.relative_to(root).as_posix()
        if relative == "promoter.yaml":
            continue
        try:
            sites = find_sites(YamlDocument.read(path, name=relative))
        except PromoterError:
            continue
        for site in sites:
            name = str(ImageRef(registry=site.image.registry, repository=site.image.repository))
            key = site.image.canonical_name
            name = canonical.setdefault(key, name)
            files = images.setdefault(name, [])
            if relative not in files:
                files.append(relative)
    return images


def _app_name(image: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", image.rsplit("/", 1)[-1]).strip("-_") or "app"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    taken.add(name)
    return name


def _detect_environments(root: Path, files: Iterable[str]) -> tuple[EnvSpec, ...]:
    """``envs/<name>/...`` style layouts: one environment per directory, all on the current branch."""
    names: dict[str, str] = {}
    for file in files:
        parts = file.split("/")
        if len(parts) >= 3 and parts[0] in _ENV_PARENTS:
            names.setdefault(parts[1], f"{parts[0]}/{parts[1]}")
    branch = _current_branch(root)

    def rank(name: str) -> tuple[int, str]:
        lowered = name.lower()
        return (_ENV_ORDER.index(lowered) if lowered in _ENV_ORDER else len(_ENV_ORDER), lowered)

    return tuple(EnvSpec(name, branch, names[name]) for name in sorted(names, key=rank))


def _current_branch(root: Path) -> str:
    head = root / ".git" / "HEAD"
    try:
        text = head.read_text(encoding="utf-8").strip()
    except OSError:
        return "main"
    prefix = "ref: refs/heads/"
    return text[len(prefix) :] if text.startswith(prefix) else "main"


def _relative_to_env(file: str, envs: tuple[EnvSpec, ...]) -> str | None:
    """``file`` relative to the environment directory holding it; None when environments have
    directories and ``file`` lies in none of them (a shared base no single environment owns)."""
    with_paths = [env for env in envs if env.path]
    for env in with_paths:
        if file.startswith(env.path + "/"):
            return file[len(env.path) + 1 :]
    return None if with_paths else file


def _drafts_from_scan(
    images: dict[str, list[str]], envs: tuple[EnvSpec, ...], taken: set[str], notes: list[str]
) -> list[AppDraft]:
    drafts = []
    for image in sorted(images, key=lambda i: (i.rsplit("/", 1)[-1], i)):
        files: list[str] = []
        for file in images[image]:
            relative = _relative_to_env(file, envs)
            if relative is None:
                notes.append(f"{file} references {image} outside every environment's directory: left out")
            elif relative not in files:
                files.append(relative)
        if files:
            drafts.append(AppDraft(_app_name(image, taken), image, tuple(files)))
    return drafts


# -------------------------------------------------------------------------------------------------
# rendering
# -------------------------------------------------------------------------------------------------
def _scalar(value: str) -> str:
    """A YAML scalar for ``value``: plain when that reads back as the same string, else double-quoted."""
    if _PLAIN_SAFE.fullmatch(value) and value.lower() not in _RESERVED and not _looks_numeric(value):
        return value
    return json.dumps(value)


def _looks_numeric(value: str) -> bool:
    try:
        float(value.replace("_", ""))
    except ValueError:
        return value.startswith(("0x", "0o")) or bool(re.fullmatch(r"[0-9:.-]+", value))
    return True


def _flow_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


_HEADER = "# promoter.yaml: how promoter changes this environment repository (written by promoter init)."


def render_config(
    options: InitOptions, environments: tuple[EnvSpec, ...], approvals: tuple[str, ...], apps: list[AppDraft]
) -> str:
    """The text of ``promoter.yaml``: every section commented, the values of ``options``."""
    from promoter.config.schema import SCHEMA_URL

    out = [f"# yaml-language-server: $schema={SCHEMA_URL}", _HEADER, ""]
    out.append("version: 1")
    if options.repo:
        out.append(f"repo: {_scalar(options.repo)}")
    out.append("")
    forge = [f"type: {options.forge}"]
    if options.forge_url:
        forge.append(f"url: {_scalar(options.forge_url)}")
    if options.project:
        forge.append(f"project: {_scalar(options.project)}")
    out.append("# Where approval merge/pull requests are opened (gitlab, github or none).")
    out.append("forge: {" + ", ".join(forge) + "}")
    out.append("")
    out.append("# An environment is a branch, or a directory (path) on a branch.")
    out.append("environments:")
    for env in environments:
        entry = [f"branch: {_scalar(env.branch)}"]
        if env.path:
            entry.append(f"path: {_scalar(env.path)}")
        if env.name in approvals:
            entry.append("approval: true")
        out.append(f"  {_scalar(env.name)}: {{{', '.join(entry)}}}")
    out.append("")
    if apps:
        out.append("# Each app's image and the files that reference it (relative to the environment's path).")
        out.append("# A file without a key: promoter finds the references to the image in it.")
        out.append("apps:")
        for app in apps:
            out.append(f"  {_scalar(app.name)}:")
            out.append(f"    image: {_scalar(app.image)}")
            out.append(f"    files: {_flow_list(app.files)}")
        out.append("")
    else:
        out.append("# apps:")
        out.append("#   api:")
        out.append("#     image: registry.example.com/acme/api")
        out.append("#     files: [values.yaml]")
        out.append("")
    if len(environments) > 1:
        out.append("# promoter promote FROM TO copies what runs in FROM to TO.")
        out.append("promotion:")
        for source, target in itertools.pairwise(environments):
            out.append(f"  - {{from: {_scalar(source.name)}, to: {_scalar(target.name)}}}")
        out.append("")
    if options.previews:
        out.append("# Preview environments per merge request: promoter preview up|down|list|gc.")
        out.append("previews: {branch: dynamic-envs, dir: apps, template: argocd-application, ttl: 7d}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


_GITLAB_SNIPPET = """\
# Add to the application's .gitlab-ci.yml (full example: ci-examples/gitlab/.gitlab-ci.yml).
# Define PROMOTER_TOKEN as a masked CI/CD variable: a project access token of the env repo with
# the write_repository and api scopes.
.promoter:
  image:
    name: registry.example.com/tools/promoter:0.1.0
    entrypoint: [""]
  variables:
    GIT_STRATEGY: none
    PROMOTER_REPO: @REPO@
    PROMOTER_DOTENV: promoter.env
  artifacts:
    reports:
      dotenv: promoter.env

bump-@ENV@:
  extends: .promoter
  stage: deploy
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  script:
    - promoter bump @ENV@ --app @APP@ --tag "$CI_COMMIT_SHORT_SHA"
"""

_GITLAB_PROMOTE = """
promote-@NEXT@:
  extends: .promoter
  stage: deploy
  needs: [bump-@ENV@]
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
      when: manual
      allow_failure: true
  script:
    - promoter promote @ENV@ @NEXT@ --app @APP@
"""

_GITHUB_SNIPPET = """\
# .github/workflows/deploy.yml of the application (full examples: ci-examples/github/).
# The workflow's GITHUB_TOKEN cannot push to the env repo: use a GitHub App token (below) or a fine-grained
# personal access token with Contents and Pull requests read and write on the env repo.
name: deploy
on:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  bump:
    runs-on: ubuntu-latest
    steps:
      # ... build and push the image tagged with the commit first
      - id: app-token
        uses: actions/create-github-app-token@v1
        with:
          app-id: ${{ secrets.PROMOTER_APP_ID }}
          private-key: ${{ secrets.PROMOTER_APP_PRIVATE_KEY }}
          owner: ${{ github.repository_owner }}
      - uses: your-org/promoter@v0
        with:
          command: bump @ENV@
          args: |
            --app
            @APP@
            --tag
            ${{ github.sha }}
          token: ${{ steps.app-token.outputs.token }}
          repo: @REPO@
"""


def ci_snippet(system: str, environments: tuple[EnvSpec, ...], app: str, repo: str | None) -> str:
    """The CI configuration that bumps the first environment (and, on GitLab, promotes to the next)."""
    env = environments[0].name
    values = {"@ENV@": env, "@APP@": app, "@REPO@": repo or "https://git.example.com/acme/environments.git"}
    if system == "gitlab":
        text = _GITLAB_SNIPPET
        if len(environments) > 1:
            text += _GITLAB_PROMOTE.replace("@NEXT@", environments[1].name)
    else:
        text = _GITHUB_SNIPPET
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text


def _forge_repo_url(options: InitOptions) -> str | None:
    """The env repo's clone URL when the forge options name it."""
    if not options.project:
        return None
    if options.forge_url:
        return f"{options.forge_url.rstrip('/')}/{options.project}.git"
    if options.forge == "github":
        return f"https://github.com/{options.project}.git"
    return None


# -------------------------------------------------------------------------------------------------
# the use case
# -------------------------------------------------------------------------------------------------
def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _with_forge_url(options: InitOptions, environ: Mapping[str, str], notes: list[str]) -> InitOptions:
    """A GitLab forge needs its URL: ``--forge-url``, else the GitLab CI server this job runs on; never a
    silent default to gitlab.com."""
    if options.forge != "gitlab" or options.forge_url:
        return options
    server = (environ.get("CI_SERVER_URL") or "").strip().rstrip("/")
    if not server:
        raise UsageError(
            "--forge gitlab needs the GitLab URL",
            hint="pass --forge-url https://gitlab.example.com (https://gitlab.com for GitLab.com)",
        )
    notes.append(f"forge URL {server} (from CI_SERVER_URL)")
    return replace(options, forge_url=server)


def _refuse_credentials(repo: str | None) -> None:
    """promoter.yaml is committed: a repository URL holding a credential must not be written into it."""
    from promoter import masking

    if repo and masking.mask_url_credentials(repo) != repo:
        raise UsageError(
            f"the repository URL {masking.mask(repo)} carries a credential; promoter.yaml is committed",
            hint="pass the URL without it and give the token in PROMOTER_TOKEN",
        )


def _check_names(environments: tuple[EnvSpec, ...], approvals: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for env in environments:
        if env.name in seen:
            raise UsageError(f"--env {env.name!r} is given twice")
        seen.add(env.name)
    for name in approvals:
        if name not in seen:
            raise UsageError(
                f"--approval {name!r} names no environment", hint=f"environments: {', '.join(seen)}"
            )


def run_init(
    options: InitOptions,
    target: Path,
    *,
    force: bool = False,
    write: bool = True,
    environ: Mapping[str, str] | None = None,
) -> InitResult:
    """Render, validate and (unless ``write`` is false) write ``target``; never overwrite without ``force``.

    Raises :class:`UsageError` (exit 2) when ``target`` exists and ``force`` is false, or the options
    contradict each other; :class:`ConfigError` (exit 2) if the rendered file does not validate.
    """
    from promoter.config import parse_config

    if write and target.exists() and not force:
        raise UsageError(
            f"{target.name} already exists", where=str(target), hint="pass --force to overwrite it"
        )
    if options.forge not in ("gitlab", "github", "none"):
        raise UsageError(f"--forge {options.forge!r}: use gitlab, github or none")
    _refuse_credentials(options.repo)
    notes: list[str] = []
    options = _with_forge_url(options, os.environ if environ is None else environ, notes)
    drafts: list[AppDraft] = []
    taken: set[str] = set()
    for name, image in options.apps:
        taken.add(name)
        drafts.append(AppDraft(name, image, options.files))
    environments = options.environments
    if options.scan is not None:
        images = scan_images(options.scan)
        if not environments:
            environments = _detect_environments(options.scan, (f for fs in images.values() for f in fs))
        known = {image for _name, image in options.apps}
        notes.append(f"scanned {options.scan}: {len(images)} image(s) found")
        remaining = {k: v for k, v in images.items() if k not in known}
        drafts.extend(_drafts_from_scan(remaining, environments, taken, notes))
    if not environments:
        environments = (EnvSpec("staging", "staging"), EnvSpec("production", "production"))
    approvals = options.approvals
    if approvals is None:
        approvals = (environments[-1].name,) if len(environments) > 1 else ()
    _check_names(environments, approvals)

    text = render_config(options, environments, approvals, drafts)
    try:
        parse_config(text, str(target))
    except ConfigError as exc:
        raise UsageError(
            f"the options give an invalid promoter.yaml: {exc.message}",
            where=exc.where,
            hint=exc.hint,
        ) from None
    except InputError as exc:  # an image reference that does not parse
        raise UsageError(f"the options give an invalid promoter.yaml: {exc.message}", hint=exc.hint) from None

    ci = options.ci if options.ci is not None else (options.forge if options.forge in CI_SYSTEMS else None)
    ci = ci or None
    snippet = None
    if ci is not None:
        app = drafts[0].name if drafts else "api"
        snippet = ci_snippet(ci, environments, app, options.repo or _forge_repo_url(options))
    if write:
        _atomic_write(target, text)
    return InitResult(
        path=target,
        text=text,
        written=write,
        environments=[e.name for e in environments],
        apps=drafts,
        ci=ci,
        snippet=snippet,
        notes=notes,
    )
