"""``promoter reconcile``: the bundled pull reconciler (loop, suspend, resume, status)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from promoter.cli.context import emit, get_globals

_NAMESPACE_HELP = "Namespace of the inventory ConfigMap (default: $PROMOTER_NAMESPACE, else 'default')."


def _instance_option(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option(
        "--namespace", envvar="PROMOTER_NAMESPACE", default="default", show_default=True, help=_NAMESPACE_HELP
    )(func)
    return click.option(
        "--instance",
        envvar="PROMOTER_INSTANCE",
        default="default",
        show_default=True,
        help="Reconciler name.",
    )(func)


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "promoter", "reconcile")


@click.group(invoke_without_command=True)
@click.option("--ref", help="Branch of the env repo to follow (required to run the loop).")
@click.option("--path", "path", default=".", show_default=True, help="Directory inside the env repo.")
@_instance_option
@click.option("--once", is_flag=True, help="One pass, then exit with its result (cron, CI).")
@click.option(
    "--interval", type=float, default=60.0, show_default=True, help="Seconds between passes (+-10%)."
)
@click.option("--no-prune", is_flag=True, help="Never delete objects removed from Git.")
@click.option("--allow-empty", is_flag=True, help="Allow an empty render to prune everything applied before.")
@click.option("--dry-run", is_flag=True, help="Print the plan (diff against the cluster); change nothing.")
@click.option("--serve", metavar="ADDR", help="Serve /healthz, /readyz and /metrics, e.g. 127.0.0.1:9090.")
@click.option("--report-status", is_flag=True, help="Post each pass as a commit status to the forge.")
@click.option(
    "--cache-dir", envvar="PROMOTER_CACHE_DIR", type=click.Path(file_okay=False), help="Checkout cache."
)
@click.option(
    "--request-timeout",
    envvar="PROMOTER_KUBECTL_REQUEST_TIMEOUT",
    metavar="DURATION",
    help="Give up on one Kubernetes API request after this long (kubectl --request-timeout; default 30s).",
)
@click.pass_context
def reconcile(
    ctx: click.Context,
    ref: str | None,
    path: str,
    instance: str,
    namespace: str,
    once: bool,
    interval: float,
    no_prune: bool,
    allow_empty: bool,
    dry_run: bool,
    serve: str | None,
    report_status: bool,
    cache_dir: str | None,
    request_timeout: str | None,
) -> None:
    """Make the cluster match a branch of the env repo (kubectl server-side apply, prune, drift repair)."""
    if ctx.invoked_subcommand is not None:
        return
    from promoter.errors import UsageError
    from promoter.reconcile.kubectl import parse_timeout
    from promoter.reconcile.loop import ReconcileOptions
    from promoter.reconcile.runner import run

    repo = get_globals().repo
    if not repo or not ref:
        raise UsageError(
            "reconcile needs the env repo and a branch", hint="promoter --repo URL reconcile --ref BRANCH"
        )
    options = ReconcileOptions(
        repo=repo,
        ref=ref,
        path=path,
        instance=instance,
        namespace=namespace,
        cache_dir=Path(cache_dir or _default_cache()) / instance,
        interval=interval,
        prune=not no_prune,
        allow_empty=allow_empty,
        dry_run=dry_run or False,
        report_status=report_status,
        request_timeout=parse_timeout(request_timeout) if request_timeout else None,
    )
    last = run(options, once=once or dry_run, serve=serve)
    emit({"status": last.as_dict()}, last.text)
    if last.exit_code:
        ctx.exit(last.exit_code)


@reconcile.command()
@_instance_option
def suspend(instance: str, namespace: str) -> None:
    """Stop applying and pruning (every replica honours it) until `reconcile resume`."""
    from promoter.reconcile.runner import set_suspended

    set_suspended(instance, namespace, True)
    emit({"instance": instance, "suspended": True}, f"{instance}: suspended")


@reconcile.command()
@_instance_option
def resume(instance: str, namespace: str) -> None:
    """Undo `reconcile suspend`."""
    from promoter.reconcile.runner import set_suspended

    set_suspended(instance, namespace, False)
    emit({"instance": instance, "suspended": False}, f"{instance}: resumed")


@reconcile.command()
@_instance_option
def status(instance: str, namespace: str) -> None:
    """Print the last pass as stored in the inventory ConfigMap."""
    from promoter.reconcile.runner import stored_status
    from promoter.reconcile.status import stored_text

    state = stored_status(instance, namespace)
    emit(
        {"instance": instance, "suspended": state.suspended, "status": state.status},
        lambda: stored_text(state.status, state.suspended),
    )
