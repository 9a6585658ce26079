"""Per-instance state in one ConfigMap: what was applied (the prune inventory), suspension, last status.

Each writer owns its own keys through its own server-side-apply field manager, so the reconciler's
writes never undo ``reconcile suspend`` and every replica sees the same flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from promoter.errors import KubectlError
from promoter.reconcile.kubectl import Kubectl
from promoter.reconcile.render import ObjectRef

INVENTORY_MANAGER = "promoter-inventory"
SUSPEND_MANAGER = "promoter-suspend"


@dataclass
class InventoryState:
    refs: list[ObjectRef] = field(default_factory=list)
    suspended: bool = False
    status: dict[str, Any] | None = None
    exists: bool = False


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
        outcome = self.kubectl.run(
            ["get", "configmap", self.name, "-n", self.namespace, "--ignore-not-found", "-o", "json"]
        )
        if not outcome.stdout.strip():
            return InventoryState()
        try:
            data = json.loads(outcome.stdout).get("data") or {}
            refs = [ObjectRef.from_dict(item) for item in json.loads(data.get("inventory") or "[]")]
            status = json.loads(data["status"]) if data.get("status") else None
        except (ValueError, KeyError, TypeError) as exc:
            raise KubectlError(
                f"inventory is unreadable: {exc}",
                where=self.where,
                hint="fix or delete the ConfigMap; deleting it forgets what to prune",
            ) from exc
        return InventoryState(refs, data.get("suspended") == "true", status, True)

    def save(self, refs: list[ObjectRef], status: dict[str, Any]) -> None:
        inventory = json.dumps([r.as_dict() for r in sorted(set(refs))], separators=(",", ":"))
        self._apply(INVENTORY_MANAGER, {"inventory": inventory, "status": json.dumps(status, sort_keys=True)})

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
