"""``promoter update [ENV]...``: plan every app with an ``update:`` policy, then change each environment once.

1. Which apps in which environments: the named ones, else every environment some app may update (an app's
   ``update.environments``, by default every environment without ``approval``) where it has files. An
   environment in a freeze window is skipped as a whole, said in one line, and not asked about at all:
   a scheduled job stays green through a freeze (``--override-gates REASON`` goes through it).
2. Registry facts, fetched once for the run and in parallel: one tag listing per image repository,
   the digest of each moving tag, build times for ``newest-build``.
3. What each environment runs and who holds what there (one ``read_files`` per branch: the apps' files and
   ``.promoter/holds.yaml``) and each app's choice, checked against its files; a plan row per app and
   environment says what and why. A held app is not moved (``held``: who, since when, why), so an app
   rolled back stays rolled back until it is released.
4. One transaction per environment with every app that moves: a commit listing them, or the environment's
   approval request (branch ``promoter/<env>/update``); holds are read again on the newest head, so a hold
   placed meanwhile counts. The commit carries bump's trailers (``Promoter-Versions``, the actor), so
   ``history`` reads update's changes from them. A registry that cannot answer skips its apps; every
   problem is reported and the exit code is the first problem's, after the others went on.

Soak and required checks are gates of a promotion path (a version coming from another environment); the
versions ``update`` writes come from the registry, so neither applies here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from promoter.config import App, Config, Environment
from promoter.errors import ConfigError, InputError, PromoterError, RegistryError
from promoter.gates.holds import Hold, holds_path, parse_holds
from promoter.gates.verdict import Gatekeeper, check_override, freeze_block
from promoter.imageref import ImageRef
from promoter.workflows.deployed import AppVersion, app_paths, plan_file, read_versions
from promoter.workflows.update.catalog import Need, RegistryFacts
from promoter.workflows.update.edit import Move, UpdateEdit, held_why, update_message, update_title
from promoter.workflows.update.model import (
    ERROR,
    HELD,
    SKIPPED,
    EnvOutcome,
    PlanRow,
    SkippedEnv,
    UpdateOptions,
    UpdateResult,
)
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
    override = check_override(options.override)  # an empty reason: exit 2 before anything is asked
    result = UpdateResult(rows=[], environments=[], calls={}, dry_run=options.dry_run)
    gates: dict[str, Gatekeeper] = {}
    plan: list[tuple[Environment, list[App]]] = []
    now = session.clock()
    for env, apps in select(config, options):
        gates[env.name] = Gatekeeper(override)
        block = freeze_block(env, now)
        if block is not None and override is None:
            result.skipped.append(SkippedEnv(env.name, block))  # not an error: the job stays green
            continue
        gates[env.name].enforce([block])  # with --override-gates: passed, and said in the commit
        plan.append((env, apps))
    if not plan:  # every environment is frozen (or none may be updated): no registry, no env repo
        return result
    registry = client if client is not None else RegistryClient(environ=session.environ)
    facts = RegistryFacts(registry, page_size=options.page_size)
    facts.prefetch(_registry_needs(plan), "update: asking registries")
    reported: set[str] = set()
    sparse = sorted({path for env, apps in plan for path in (*app_paths(env, apps), holds_path(env))})
    with session.env_repo(sparse) as repo:
        read = _read_all(repo, plan, result)
        facts.prefetch(_build_time_needs(plan, read, facts), "update: reading build times")
        chooser = Chooser(facts)
        for env, apps in plan:
            if env.name not in read:
                continue
            texts, versions, holds = read[env.name]
            moves = []
            for app in apps:
                row, error = _plan_row(app, env, versions[app.name], texts, chooser)
                _check_hold(row, holds.get(app.name), override)
                result.rows.append(row)
                if error is not None and error.message not in reported:
                    reported.add(error.message)
                    result.problems.append(error)
                if row.moves:
                    moves.append(Move(app, row))
            if moves:
                _deliver(session, repo, env, moves, chooser, options, result, gates[env.name])
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


Read = dict[str, tuple[dict[str, str | None], dict[str, AppVersion], dict[str, Hold]]]


def _read_all(repo: EnvRepo, plan: Sequence[tuple[Environment, list[App]]], result: UpdateResult) -> Read:
    """Each environment's files, versions and holds, one ``read_files`` per branch; a broken env (a file
    or its holds file that cannot be read) is a problem, and that environment is left alone."""
    by_branch: dict[str, dict[str, str | None]] = {}
    out: Read = {}
    for env, apps in plan:
        try:
            held = holds_path(env)
            paths = [*app_paths(env, apps), held]
            if env.branch not in by_branch or any(path not in by_branch[env.branch] for path in paths):
                wanted = sorted({*by_branch.get(env.branch, {}), *paths})
                by_branch[env.branch] = repo.read_files(env.branch, wanted)
            texts = by_branch[env.branch]
            holds = parse_holds(texts.get(held), f"{env.branch}:{held}")
            out[env.name] = (texts, read_versions(env, apps, texts), holds)
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


def _check_hold(row: PlanRow, hold: Hold | None, override: str | None) -> None:
    """A held app that would move is ``held`` instead (with ``--override-gates`` it moves)."""
    row.hold = hold
    if hold is not None and row.moves and override is None:
        row.mark(HELD, held_why(hold.describe(), row.candidate))


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
    gates: Gatekeeper,
) -> None:
    from promoter.workflows.approval import ReviewContext
    from promoter.workflows.delivery import deliver
    from promoter.workflows.requester import run_trailers

    edit = UpdateEdit(env, moves, chooser, gates)

    def message(_changes: object) -> str:
        extra = {**gates.trailers(), **run_trailers(session.ci, session.environ)}
        return update_message(session.config, env, edit.apps, notes=gates.notes(), extra_trailers=extra)

    try:
        delivery = deliver(
            session,
            repo,
            env,
            edit,
            message,
            dry_run=options.dry_run,
            review_branch=f"promoter/{env.name}/update",
            review_title=lambda: update_title(env, edit.apps),
            review_rows=lambda: [
                {"app": a.app, "old": ", ".join(a.old_tags) or None, "new": a.tag, "image": a.image}
                for a in edit.apps
            ],
            review=ReviewContext(kind="update", notes=gates.notes),
        )
    except PromoterError as error:
        for move in moves:
            move.row.mark(ERROR, f"{env.name} was not changed: {error.message}")
        result.problems.append(error)
        return
    result.environments.append(EnvOutcome(env.name, delivery, edit.apps, gates))
