"""What the cluster holds, read in bulk: one LIST per rendered kind, by label.

The list asks for objects carrying ``promoter.dev/instance=<instance>`` (``kubectl get --raw`` of the
kind's collection, paged with ``limit``/``continue``; the kinds in parallel), in one namespace when every
namespaced object is in it, else across namespaces (namespace by namespace when that is forbidden).
``--raw`` hands over the API server's JSON as is, so kubectl neither decodes nor re-prints it. Objects the
render wants but the list does not return are looked up by name (``kubectl get -f``): those are new, or
exist without promoter's label, which makes them conflicts rather than objects to take over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from promoter.errors import KubectlError
from promoter.reconcile import INSTANCE_LABEL
from promoter.reconcile.kubectl import Kubectl, Outcome
from promoter.reconcile.render import Manifest, ObjectRef

Key = tuple[str, str, str, str]
PAGE = 1000  # objects per LIST request
PARALLEL = 4  # kinds listed at once
_NOT_FOUND = "(NotFound)"
_FORBIDDEN = "(Forbidden)"


@dataclass(frozen=True)
class ApiType:
    """One kind as discovery (``kubectl api-resources``) reports it; ``api_version`` is the preferred one."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def collection(self, version: str, namespace: str | None) -> str:
        prefix = f"/apis/{self.group}/{version}" if self.group else f"/api/{version}"
        scope = f"/namespaces/{namespace}" if namespace and self.namespaced else ""
        return f"{prefix}{scope}/{self.plural}"


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
    kubectl: Kubectl, refs: Iterable[ObjectRef], instance: str, types: Mapping[tuple[str, str], ApiType]
) -> dict[Key, dict[str, Any]]:
    """Every object of the kinds of ``refs`` that carries this instance's label, by key.

    Kinds are listed in the version the render uses, or in the preferred one when the cluster does not
    serve that version yet (a CRD version added by the same commit). ``types`` must hold every kind.
    """
    refs = list(refs)
    namespaces = sorted({ref.namespace for ref in refs if ref.namespace})
    versions: dict[tuple[str, str], str] = {}
    for ref in refs:
        versions.setdefault((ref.group, ref.kind), ref.version)
    selector = f"{INSTANCE_LABEL}={instance}"

    def list_kind(group_kind: tuple[str, str]) -> list[dict[str, Any]]:
        api = types[group_kind]
        version = versions[group_kind]
        scope = namespaces[0] if len(namespaces) == 1 else None
        items, outcome = _list_all(kubectl, api, version, scope, selector)
        if items is None and _NOT_FOUND in outcome.stderr and version != api.version:
            version = api.version
            items, outcome = _list_all(kubectl, api, version, scope, selector)
        if items is None and _FORBIDDEN in outcome.stderr and api.namespaced and len(namespaces) > 1:
            items = _list_each(kubectl, api, version, namespaces, selector)
        if items is None:
            raise KubectlError(f"cannot list {api.plural} of {api.group or 'core'}: {outcome.error_text()}")
        return items

    found: dict[Key, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for items in pool.map(list_kind, versions):
            found.update((key_of(item), item) for item in items)
    return found


def _list_each(
    kubectl: Kubectl, api: ApiType, version: str, namespaces: list[str], selector: str
) -> list[dict[str, Any]]:
    """Namespace by namespace, for a reconciler bound by namespaced Roles."""
    items: list[dict[str, Any]] = []
    for namespace in namespaces:
        part, outcome = _list_all(kubectl, api, version, namespace, selector)
        if part is None:
            raise KubectlError(f"cannot list {api.plural} in {namespace}: {outcome.error_text()}")
        items.extend(part)
    return items


def _list_all(
    kubectl: Kubectl, api: ApiType, version: str, namespace: str | None, selector: str
) -> tuple[list[dict[str, Any]] | None, Outcome]:
    """Every page of one collection (None and kubectl's outcome when a request failed)."""
    items: list[dict[str, Any]] = []
    token = ""
    path = api.collection(version, namespace)
    group_version = f"{api.group}/{version}" if api.group else version
    while True:
        query = {"labelSelector": selector, "limit": str(PAGE), **({"continue": token} if token else {})}
        outcome = kubectl.run(["get", "--raw", f"{path}?{urlencode(query)}"], check=False)
        if outcome.returncode != 0:
            return None, outcome
        try:
            page = json.loads(outcome.stdout)
        except ValueError as exc:
            raise KubectlError(f"the list of {path} is not JSON: {exc}") from None
        for item in page.get("items") or []:
            item.setdefault("apiVersion", group_version)  # list items of built-in kinds omit their type
            item.setdefault("kind", api.kind)
            items.append(item)
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return items, outcome


def lookup(
    kubectl: Kubectl,
    manifests: list[Manifest],
    scratch: Path,
    types: Mapping[tuple[str, str], ApiType] | None = None,
) -> dict[Key, dict[str, Any]]:
    """The live objects (found by name, whatever their labels) of ``manifests``; absent ones are left out.

    Looked up in the cluster's preferred version: existence and ownership do not depend on it."""
    if not manifests:
        return {}
    path = scratch / "lookup.json"
    known = types or {}

    def preferred(m: Manifest) -> str:
        api = known.get((m.ref.group, m.ref.kind))
        return api.api_version if api else m.ref.api_version

    write_stream(({**identity(m.obj), "apiVersion": preferred(m)} for m in manifests), path)
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
