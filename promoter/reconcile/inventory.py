"""Per-instance state in one ConfigMap: what was applied (the prune inventory), suspension, last status.

The ConfigMap ``promoter-reconcile-<instance>`` (namespace ``--namespace``, label
``promoter.dev/inventory=<instance>``) holds these ``data`` keys:

- ``inventory``: JSON ``{"format": 2, "objects": {"<apiVersion> <Kind>": {"<namespace>": {"<name>":
  "<desired hash>.<live hash>.<resourceVersion>"}}}}``: every object this instance created and still owns,
  with the hashes of :mod:`promoter.reconcile.fingerprint` and the ``resourceVersion`` they were taken at
  (empty namespace for cluster-scoped objects). The first release
  wrote a JSON list of ``{apiVersion, kind, namespace, name}``; it is still read.
- ``status``: the last pass as JSON (the shape is documented in :mod:`promoter.reconcile.status`).
- ``result``, ``attempted_revision``, ``applied_revision``, ``finished_at``: the same values as plain
  strings, for ``kubectl get configmap ... -o jsonpath='{.data.result}'``.
- ``suspended``: ``"true"`` while ``promoter reconcile suspend`` is in force.

Each writer owns its own keys through its own server-side-apply field manager, so the reconciler's
writes never undo ``reconcile suspend`` and every replica sees the same flag.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promoter.errors import KubectlError
from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.render import ObjectRef

INVENTORY_MANAGER = "promoter-inventory"
SUSPEND_MANAGER = "promoter-suspend"
FORMAT = 2
MAX_BYTES = 900_000
"""A ConfigMap holds at most 1 MiB; stay clear of it and say so instead of failing at the API server."""
FLAT_KEYS = ("result", "attempted_revision", "applied_revision", "finished_at")


@dataclass(frozen=True)
class Record:
    """An object as last applied (or seen in sync): the hashes of :mod:`promoter.reconcile.fingerprint` and
    the ``resourceVersion`` they were taken at; empty when not known."""

    desired: str = ""
    live: str = ""
    version: str = ""

    def encode(self) -> str:
        return f"{self.desired}.{self.live}.{self.version}"

    @classmethod
    def decode(cls, text: str) -> Record:
        desired, _, rest = str(text).partition(".")
        live, _, version = rest.partition(".")
        return cls(desired, live, version)


@dataclass
class InventoryState:
    records: dict[ObjectRef, Record] = field(default_factory=dict)
    suspended: bool = False
    status: dict[str, Any] | None = None
    exists: bool = False

    @property
    def refs(self) -> list[ObjectRef]:
        return sorted(self.records)


def encode_inventory(records: Mapping[ObjectRef, Record]) -> str:
    tree: dict[str, dict[str, dict[str, str]]] = {}
    for ref in sorted(records):
        kind = tree.setdefault(f"{ref.api_version} {ref.kind}", {})
        kind.setdefault(ref.namespace, {})[ref.name] = records[ref].encode()
    return json.dumps({"format": FORMAT, "objects": tree}, separators=(",", ":"), sort_keys=True)


def decode_inventory(text: str) -> dict[ObjectRef, Record]:
    data = json.loads(text or "[]")
    if isinstance(data, list):  # the first release: refs only
        return {ObjectRef.from_dict(item): Record() for item in data}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(
            f"unknown inventory format {data.get('format') if isinstance(data, dict) else data!r}"
        )
    records: dict[ObjectRef, Record] = {}
    for type_key, namespaces in (data.get("objects") or {}).items():
        api_version, _, kind = type_key.partition(" ")
        for namespace, names in namespaces.items():
            for name, hashes in names.items():
                records[ObjectRef(api_version, kind, namespace, name)] = Record.decode(hashes)
    return records


class Inventory:
    def __init__(self, kubectl: Kubectl, instance: str, namespace: str) -> None:
        self.kubectl = kubectl
        self.instance = instance
        self.namespace = namespace

    @property
    def name(self) -> str:
        return f"promoter-reconcile-{self.instance}"

    @property
    def where(self) -> str:
        return f"configmap {self.namespace}/{self.name}"

    def load(self) -> InventoryState:
        path = f"/api/v1/namespaces/{self.namespace}/configmaps/{self.name}"
        outcome = self.kubectl.run(["get", "--raw", path], check=False)  # no discovery needed
        if outcome.returncode != 0:
            if "(NotFound)" in outcome.stderr:
                return InventoryState()
            raise KubectlError(f"cannot read the inventory: {outcome.error_text()}", where=self.where)
        try:
            data = json.loads(outcome.stdout).get("data") or {}
            records = decode_inventory(data.get("inventory") or "[]")
            status = json.loads(data["status"]) if data.get("status") else None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KubectlError(
                f"inventory is unreadable: {exc}",
                where=self.where,
                hint="fix or delete the ConfigMap; deleting it forgets what to prune",
            ) from exc
        return InventoryState(records, data.get("suspended") == "true", status, True)

    def save(self, records: Mapping[ObjectRef, Record], status: dict[str, Any]) -> None:
        inventory = encode_inventory(records)
        data = {"inventory": inventory, "status": json.dumps(status, sort_keys=True)}
        data.update({key: str(status.get(key) or "") for key in FLAT_KEYS})
        size = sum(len(k) + len(v.encode()) for k, v in data.items())
        if size > MAX_BYTES:
            raise KubectlError(
                f"the inventory of {len(records)} objects needs {size // 1024} KiB, more than a ConfigMap "
                "holds",
                where=self.where,
                hint="split the env repo over several reconciler instances (--path, --instance)",
            )
        self._apply(INVENTORY_MANAGER, data)

    def set_suspended(self, suspended: bool) -> None:
        self._apply(SUSPEND_MANAGER, {"suspended": "true" if suspended else "false"})

    def _apply(self, manager: str, data: dict[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "promoter",
                    "promoter.dev/inventory": self.instance,
                },
            },
            "data": data,
        }
        self.kubectl.run(
            ["apply", "--server-side", f"--field-manager={manager}", "--force-conflicts", "-f", "-"],
            stdin=json.dumps(body),
        )
