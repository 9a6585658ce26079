"""What the cluster holds, read in bulk: one ``kubectl get`` of every rendered kind, by label.

The list asks for objects carrying ``promoter.dev/instance=<instance>`` (one LIST per kind, paged by
kubectl), in one namespace when every namespaced object is in it, else across namespaces. Objects the
render wants but the list does not return are looked up by name (``kubectl get -f``): those are new, or
exist without promoter's label, which makes them conflicts rather than objects to take over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from promoter.errors import KubectlError
from promoter.reconcile import INSTANCE_LABEL
from promoter.reconcile.kubectl import Kubectl, Outcome
from promoter.reconcile.render import Manifest, ObjectRef

Key = tuple[str, str, str, str]
_UNSERVED = "the server doesn't have a resource type"
_FORBIDDEN = "(Forbidden)"


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group, str(obj.get("kind", "")), meta.get("namespace") or "", meta.get("name", "")


def list_items(stdout: str) -> list[dict[str, Any]]:
    if not stdout.strip():
        return []
    data = json.loads(stdout)
    if isinstance(data, dict) and "items" in data and str(data.get("kind", "")).endswith("List"):
        return [item for item in data.get("items") or [] if isinstance(item, dict)]
    return [data] if isinstance(data, dict) else []


def list_labelled(
    kubectl: Kubectl,
    refs: Iterable[ObjectRef],
    instance: str,
    preferred: Mapping[tuple[str, str], str] | None = None,
) -> dict[Key, dict[str, Any]]:
    """Every object of the kinds of ``refs`` that carries this instance's label, by key.

    Kinds are listed in the version the render uses; when the cluster does not serve that version yet
    (a CRD version added by the same commit), in the ``preferred`` version discovery reported. Objects in
    several namespaces are listed across namespaces, or namespace by namespace when the reconciler may not
    list cluster-wide (a namespaced Role).
    """
    refs = list(refs)
    namespaces = sorted({ref.namespace for ref in refs if ref.namespace})
    types = list(dict.fromkeys(ref.type_name for ref in refs))
    if not types:
        return {}
    selector = ["-l", f"{INSTANCE_LABEL}={instance}", "-o", "json"]

    def get(scope: list[str]) -> Outcome:
        outcome = kubectl.run(["get", ",".join(types), *scope, *selector], check=False)
        if outcome.returncode != 0 and _UNSERVED in outcome.stderr and preferred:
            versions = [_preferred_type(ref, preferred) for ref in refs]
            retry = ",".join(dict.fromkeys(versions))
            outcome = kubectl.run(["get", retry, *scope, *selector], check=False)
        return outcome

    scopes = [["-n", namespaces[0]]] if len(namespaces) == 1 else [["-A"]] if namespaces else [[]]
    outcomes = [get(scopes[0])]
    if outcomes[0].returncode != 0 and _FORBIDDEN in outcomes[0].stderr and len(namespaces) > 1:
        outcomes = [get(["-n", namespace]) for namespace in namespaces]
    found: dict[Key, dict[str, Any]] = {}
    for outcome in outcomes:
        if outcome.returncode != 0:
            raise KubectlError(f"cannot list the live objects: {outcome.error_text()}")
        try:
            found.update((key_of(item), item) for item in list_items(outcome.stdout))
        except ValueError as exc:
            raise KubectlError(f"kubectl get printed something that is not JSON: {exc}") from None
    return found


def _preferred_type(ref: ObjectRef, preferred: Mapping[tuple[str, str], str]) -> str:
    api_version = preferred.get((ref.group, ref.kind), ref.api_version)
    return f"{ref.kind}.{api_version.rpartition('/')[2]}.{ref.group}"


def lookup(
    kubectl: Kubectl,
    manifests: list[Manifest],
    scratch: Path,
    preferred: Mapping[tuple[str, str], str] | None = None,
) -> dict[Key, dict[str, Any]]:
    """The live objects (found by name, whatever their labels) of ``manifests``; absent ones are left out.

    Looked up in the cluster's ``preferred`` version: existence and ownership do not depend on it."""
    if not manifests:
        return {}
    path = scratch / "lookup.json"
    versions = preferred or {}
    write_stream(
        (
            {**identity(m.obj), "apiVersion": versions.get((m.ref.group, m.ref.kind), m.ref.api_version)}
            for m in manifests
        ),
        path,
    )
    outcome = kubectl.run(["get", "-f", str(path), "--ignore-not-found", "-o", "json"], check=False)
    if outcome.returncode != 0:
        raise KubectlError(f"cannot look up objects by name: {outcome.error_text()}")
    try:
        return {key_of(item): item for item in list_items(outcome.stdout)}
    except ValueError as exc:
        raise KubectlError(f"kubectl get printed something that is not JSON: {exc}") from None


def identity(obj: dict[str, Any]) -> dict[str, Any]:
    """Only what names an object (no content: a lookup or a delete needs nothing else)."""
    meta = obj.get("metadata") or {}
    slim = {"name": meta.get("name")}
    if meta.get("namespace"):
        slim["namespace"] = meta["namespace"]
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": slim}


def write_stream(items: Iterable[dict[str, Any]], path: Path) -> Path:
    """A private file holding a YAML stream of JSON documents (a v1 List would need its own validation)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for item in items:  # json.dumps, not json.dump: the C encoder
            handle.write(f"---\n{json.dumps(item)}\n")
    return path
