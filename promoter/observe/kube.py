"""``kubectl get -o json`` for the sources that read the cluster (Flux, the bundled reconciler).

kubectl's exit status says little; its stderr says what went wrong. That text is sorted three ways:
"Unauthorized"/"Forbidden" stop the wait (:class:`SourceAccessDenied`), a missing object is an answer
(None), a cluster that cannot be reached or is overloaded is retried (:class:`SourceUnavailable`).
Anything that cannot get better by waiting (no kubeconfig, an unknown resource type) is exit 1 at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from promoter import masking
from promoter.errors import KubectlError, OperationalError
from promoter.observe.source import SourceAccessDenied, SourceUnavailable
from promoter.reconcile.kubectl import Kubectl, Outcome

_ACCESS = ("unauthorized", "must be logged in", "(forbidden)", " is forbidden", "provide credentials")
_FATAL = (
    "doesn't have a resource type",
    "no matches for kind",
    "error loading config file",
    "invalid configuration",
    "no configuration has been provided",
    "server could not find the requested resource",
)
_NOT_FOUND = ("(notfound)", "not found")
REQUEST_TIMEOUT = 30.0
_KLOG = re.compile(r"^[EIWF]\d{4} ")  # client-go log lines ("E1205 23:52:24.50 ... memcache.go ...")


class KubeReader:
    """Runs ``kubectl`` (KUBECONFIG, or the in-cluster config) for reads and annotations."""

    def __init__(self, kubectl: Kubectl | None = None) -> None:
        self.kubectl = kubectl or Kubectl()
        self.calls = 0

    def run(self, args: Sequence[str], *, budget: float | None = None) -> Outcome:
        timeout = max(min(REQUEST_TIMEOUT, budget), 1.0) if budget is not None else REQUEST_TIMEOUT
        self.calls += 1
        try:
            return self.kubectl.run([*args, f"--request-timeout={int(timeout + 0.999)}s"], check=False)
        except KubectlError as exc:
            if "timed out" in exc.message:
                raise SourceUnavailable(exc.message, hint="the cluster answers slowly; retrying") from None
            raise

    def get(self, resource: str, name: str, namespace: str | None, *, budget: float | None = None) -> Any:
        """The object as JSON, or None when it does not exist."""
        args = ["get", resource, name, "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        outcome = self.run(args, budget=budget)
        if outcome.returncode == 0:
            try:
                return json.loads(outcome.stdout)
            except ValueError:
                raise SourceUnavailable(f"kubectl get {resource} {name}: unreadable JSON") from None
        where = f"{resource} {namespace + '/' if namespace else ''}{name}"
        self.raise_for(outcome, where)
        return None

    def raise_for(self, outcome: Outcome, where: str) -> None:
        """Raise what ``outcome``'s stderr means; return quietly when it means "not found"."""
        text = error_text(outcome)
        lowered = outcome.stderr.lower()
        if any(marker in lowered for marker in _ACCESS):
            raise SourceAccessDenied(
                f"kubectl: {text}",
                where=where,
                hint="the kubeconfig's user needs get (and patch, for reconcile: true) on this resource; "
                "check KUBECONFIG and the RBAC bindings",
            )
        if any(marker in lowered for marker in _FATAL):
            raise OperationalError(
                f"kubectl: {text}",
                where=where,
                hint="check KUBECONFIG and that the operator (its CRDs) is installed in this cluster",
            )
        if any(marker in lowered for marker in _NOT_FOUND):
            return
        raise SourceUnavailable(f"kubectl: {text}", where=where)


def error_text(outcome: Outcome) -> str:
    """kubectl's own error lines (``error: ...``, ``Error from server ...``), not client-go's logs."""
    lines = [line.strip() for line in outcome.stderr.splitlines() if line.strip()]
    own = [line for line in lines if not _KLOG.match(line)]
    return masking.mask("; ".join((own or lines)[-3:])) or f"exit status {outcome.returncode}"
