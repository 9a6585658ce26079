"""``promoter update [ENV]...``: plan every app with an ``update:`` policy, then change each environment once.

1. Which apps in which environments: the named ones, else every environment some app may update (an app's
   ``update.environments``, by default every environment without ``approval``) where it has files.
2. Registry facts, fetched once for the run and in parallel: one tag listing per image repository,
   the digest of each moving tag, build times for ``newest-build``.
3. What each environment runs (one ``read_files`` per branch) and each app's choice, checked against its
   files; a plan row per app and environment says what and why.
4. One transaction per environment with every app that moves: a commit listing them, or the environment's
   approval request (branch ``promoter/<env>/update``). A registry that cannot answer skips its apps;
   every problem is reported and the exit code is the first problem's, after the others went on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from promoter.config import App, Config, Environment
from promoter.errors import ConfigError, InputError, PromoterError, RegistryError
from promoter.imageref import ImageRef
from promoter.workflows.deployed import AppVersion, app_paths, plan_file, read_versions
from promoter.workflows.update.catalog import Need, RegistryFacts
from promoter.workflows.update.edit import Move, UpdateEdit, update_message, update_title
from promoter.workflows.update.model import ERROR, SKIPPED, EnvOutcome, PlanRow, UpdateOptions, UpdateResult
from promoter.workflows.update.strategies import Chooser, Narrowed, current_of, short
from promoter.yamledit import YamlDocument

if TYPE_CHECKING:
    from promoter.envrepo import EnvRepo
    from promoter.registry import RegistryClient
    from promoter.workflows.session import Session

LISTING = frozenset({"semver", "newest-build", "alphabetical", "numerical"})


def select(config: Config, options: UpdateOptions) -> list[tuple[Environment, list[App]]]:
    """The environments to update and, for each, the apps ``update`` may change there."""
    named_envs = [config.environment(name) for name in dict.fromkeys(options.envs)]
    apps = [config.app(name) for name in dict.fromkeys(options.apps)] or [
        app for app in config.apps.values() if app.update is not None
    ]
    for app in apps:
        if app.update is None:
            raise ConfigError(
                f"app {app.name} has no update: policy",
                where=config.source,
                hint=f"add apps.{app.name}.update (for example {{strategy: semver, constraint: '^1.0'}})",
            )
    if not apps:
        raise ConfigError(
            "no app has an update: policy",
            where=config.source,
            hint="add update: {strategy: ...} to the apps promoter update should keep current",
        )
    envs = named_envs or list(config.environments.values())
    out = []
    for env in envs:
        chosen = [app for app in apps if env.name in _update_envs(config, app) and app.files_for(env.name)]
        if chosen:
            out.append((env, chosen))
    return out


def _update_envs(config: Config, app: App) -> tuple[str, ...]:
    assert app.update is not None
    if app.update.environments is not None:
        return app.update.environments
    return tuple(name for name, env in config.environments.items() if not env.approval)


def update(session: Session, options: UpdateOptions, *, client: RegistryClient | None = None) -> UpdateResult:
    from promoter.registry import RegistryClient

    config = session.config
    plan = select(config, options)
    registry = client if client is not None else RegistryClient(environ=session.environ)
    facts = RegistryFacts(registry, page_size=options.page_size)
    facts.prefetch(_registry_needs(plan), "update: asking registries")
    result = UpdateResult(rows=[], environments=[], calls={}, dry_run=options.dry_run)
    reported: set[str] = set()
    sparse = sorted({path for env, apps in plan for path in app_paths(env, apps)})
    with session.env_repo(sparse) as repo:
        read = _read_all(repo, plan, result)
        facts.prefetch(_build_time_needs(plan, read, facts), "update: reading build times")
        chooser = Chooser(facts)
        for env, apps in plan:
            if env.name not in read:
                continue
            texts, versions = read[env.name]
            moves = []
            for app in apps:
                row, error = _plan_row(app, env, versions[app.name], texts, chooser)
                result.rows.append(row)
                if error is not None and error.message not in reported:
                    reported.add(error.message)
                    result.problems.append(error)
                if row.moves:
                    moves.append(Move(app, row))
            if moves:
                _deliver(session, repo, env, moves, chooser, options, result)
    result.calls = registry.calls
    result.problems.sort(key=lambda problem: not isinstance(problem, RegistryError))
    return result


def _registry_needs(plan: Sequence[tuple[Environment, list[App]]]) -> list[Need]:
    needs = []
    for _, apps in plan:
        for app in apps:
            assert app.update is not None
            image = ImageRef.parse(app.image)
            if app.update.strategy in LISTING:
                needs.append(Need("tags", image))
            else:
                needs.append(Need("digest", image, app.update.tag or "latest"))
    return needs


Read = dict[str, tuple[dict[str, str | None], dict[str, AppVersion]]]


def _read_all(repo: EnvRepo, plan: Sequence[tuple[Environment, list[App]]], result: UpdateResult) -> Read:
    """Each environment's files and versions, one ``read_files`` per branch; a broken env is a problem."""
    by_branch: dict[str, dict[str, str | None]] = {}
    out: Read = {}
    for env, apps in plan:
        try:
            paths = app_paths(env, apps)
            if env.branch not in by_branch or any(path not in by_branch[env.branch] for path in paths):
                wanted = sorted({*by_branch.get(env.branch, {}), *paths})
                by_branch[env.branch] = repo.read_files(env.branch, wanted)
            texts = by_branch[env.branch]
            out[env.name] = (texts, read_versions(env, apps, texts))
        except PromoterError as error:
            result.problems.append(error)
    return out


def _build_time_needs(
    plan: Sequence[tuple[Environment, list[App]]], read: Read, facts: RegistryFacts
) -> list[Need]:
    """``created`` of every candidate tag of ``newest-build`` apps, and of what they run now."""
    needs: list[Need] = []
    for env, apps in plan:
        for app in apps:
            if app.update is None or app.update.strategy != "newest-build" or env.name not in read:
                continue
            image = ImageRef.parse(app.image)
            if facts.failure(image) is not None:
                continue
            narrowed = Narrowed(app.update, facts.tags(image))
            needs.extend(Need("created", image, tag) for tag, _ in narrowed.items)
            now = read[env.name][1][app.name].tag
            if now:
                needs.append(Need("created", image, now))
    return needs


def _plan_row(
    app: App, env: Environment, version: AppVersion, texts: dict[str, str | None], chooser: Chooser
) -> tuple[PlanRow, PromoterError | None]:
    """The row for ``app`` in ``env``, and the problem that stopped it (None when nothing did)."""
    policy = app.update
    assert policy is not None
    row = PlanRow(app.name, env.name, policy.strategy, ERROR, "")
    image = ImageRef.parse(app.image)
    try:
        if version.missing:
            raise InputError(
                f"{app.name} is not deployed in {env.name}: {', '.join(version.missing)} missing",
                where=", ".join(version.where),
            )
        where = ", ".join(version.where)
        now, pinned = current_of(version.versions, where, app.name, env.name)
        row.current = _shown(now.tag, now.digest) if version.versions else None
        choice = chooser.choose(policy, now, image, pin=pinned)
        row.status, row.why = choice.status, choice.why
        if choice.moves:
            row.candidate = _shown(choice.tag, choice.digest)
            new = image.with_version(choice.tag, choice.digest)
            row.image = str(new)
            _check_writable(app, env, texts, new)
    except RegistryError as error:
        row.status, row.why = SKIPPED, f"{image.canonical_registry} did not answer: {error.message}"
        return row, error
    except PromoterError as error:
        row.status, row.why = ERROR, str(error)
        return row, error
    return row, None


def _check_writable(app: App, env: Environment, texts: dict[str, str | None], ref: ImageRef) -> None:
    """Plan the edit on the text read: a file that cannot take the new reference fails here, per app."""
    for target in app.files_for(env.name):
        path = env.file_path(target.file)
        document = YamlDocument.parse(texts.get(path) or "", f"{env.branch}:{path}")
        plan_file(document, target.key, target.doc, app, ref)


def _shown(tag: str | None, digest: str | None) -> str:
    return f"{tag or ''}@{short(digest)}" if digest else (tag or "")


def _deliver(
    session: Session,
    repo: EnvRepo,
    env: Environment,
    moves: list[Move],
    chooser: Chooser,
    options: UpdateOptions,
    result: UpdateResult,
) -> None:
    from promoter.workflows.delivery import deliver

    edit = UpdateEdit(env, moves, chooser)
    try:
        delivery = deliver(
            session,
            repo,
            env,
            edit,
            lambda _changes: update_message(session.config, env, edit.apps),
            dry_run=options.dry_run,
            review_branch=f"promoter/{env.name}/update",
            review_title=lambda: update_title(env, edit.apps),
            review_rows=lambda: [
                {"app": a.app, "old": ", ".join(a.old_tags) or None, "new": a.tag, "image": a.image}
                for a in edit.apps
            ],
        )
    except PromoterError as error:
        for move in moves:
            move.row.status, move.row.why = ERROR, f"{env.name} was not changed: {error.message}"
        result.problems.append(error)
        return
    result.environments.append(EnvOutcome(env.name, delivery, edit.apps))
