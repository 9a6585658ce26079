"""An in-process fake Kubernetes API server on 127.0.0.1 that the real ``kubectl`` talks to.

It models what ``kubectl apply/diff --server-side``, ``get``, ``delete``, ``patch --type merge`` and
``wait`` need: discovery, a minimal OpenAPI v3 (so kubectl's default server-side field validation works),
GET, list with label and field selectors, DELETE, PATCH (apply and merge) with dry-run, field managers and
conflicts. What it does not model is listed in ``tests/kube/README.md``.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Path_ = tuple[str, ...]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"


BUILTIN_TYPES = (
    ResourceType("", "v1", "Namespace", "namespaces", False),
    ResourceType("", "v1", "ConfigMap", "configmaps", True),
    ResourceType("", "v1", "Secret", "secrets", True),
    ResourceType("", "v1", "Service", "services", True),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True),
    ResourceType("apps", "v1", "Deployment", "deployments", True),
    ResourceType("apps", "v1", "StatefulSet", "statefulsets", True),
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ResourceType(
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False
    ),
)
SHORT_NAMES = {
    "namespaces": ["ns"],
    "configmaps": ["cm"],
    "services": ["svc"],
    "serviceaccounts": ["sa"],
    "deployments": ["deploy"],
    "statefulsets": ["sts"],
    "ingresses": ["ing"],
    "customresourcedefinitions": ["crd", "crds"],
}
_SERVER_FIELDS = {"resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]


@dataclass
class Store:
    """Objects and field ownership; every access holds ``lock``."""

    types: dict[tuple[str, str], ResourceType] = field(default_factory=dict)  # (group, plural) -> type
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    owners: dict[tuple[str, str, str, str], dict[str, tuple[str, set[Path_]]]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    stalls: dict[tuple[str, str], float] = field(default_factory=dict)  # (method, path) -> seconds
    namespaced_only: bool = False  # refuse lists of namespaced kinds across namespaces (a namespaced Role)
    lock: threading.RLock = field(default_factory=threading.RLock)
    revision: int = 1

    def __post_init__(self) -> None:
        for rtype in BUILTIN_TYPES:
            self.types[(rtype.group, rtype.plural)] = rtype
        self.objects[("", "namespaces", "", "default")] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "default", "resourceVersion": "1", "uid": "uid-default"},
            "status": {"phase": "Active"},
        }


class FakeKube:
    """Start with :meth:`start` (or as a context manager); ``kubeconfig`` is ready for ``KUBECONFIG``."""

    def __init__(self, workdir: Path) -> None:
        self.store = Store()
        self.workdir = workdir
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.kubeconfig = workdir / "kubeconfig"

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FakeKube:
        store = self.store
        handler = type("Handler", (_Handler,), {"store": store})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # inspection helpers for tests ----------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        with self.store.lock:
            for (group, plural, ns, obj_name), obj in self.store.objects.items():
                rtype = self.store.types.get((group, plural))
                if rtype and rtype.kind == kind and ns == namespace and obj_name == name:
                    return copy.deepcopy(obj)
        return None

    def names(self, kind: str) -> set[str]:
        with self.store.lock:
            return {
                f"{key[2]}/{key[3]}" if key[2] else key[3]
                for key, obj in self.store.objects.items()
                if obj.get("kind") == kind
            }

    def requests(self, method: str | None = None, *, dry_run: bool | None = None) -> list[Request]:
        with self.store.lock:
            found = list(self.store.requests)
        if method:
            found = [r for r in found if r.method == method]
        if dry_run is not None:
            found = [r for r in found if ("dryRun" in r.query) == dry_run]
        return found

    def clear_requests(self) -> None:
        with self.store.lock:
            self.store.requests.clear()

    def apply(self, obj: dict[str, Any], manager: str = "kubectl") -> dict[str, Any]:
        """Server-side apply ``obj`` in process, as ``manager`` (seeds a cluster without spawning kubectl)."""
        meta = obj.get("metadata") or {}
        with self.store.lock:
            rtype = next(
                (
                    t
                    for t in self.store.types.values()
                    if t.kind == obj.get("kind") and t.group_version == obj.get("apiVersion")
                ),
                None,
            )
            if rtype is None:
                raise KeyError(f"{obj.get('apiVersion')} {obj.get('kind')}")
            namespace = (meta.get("namespace") or "default") if rtype.namespaced else ""
            key = (rtype.group, rtype.plural, namespace, meta["name"])
            query = {"fieldManager": manager, "force": "true"}
            _, new = _patch(
                self.store, rtype, key, query, json.dumps(obj).encode(), "application/apply-patch+yaml"
            )
            return copy.deepcopy(new)

    def stall(self, method: str, path: str, seconds: float) -> None:
        """Answer ``method path`` only after ``seconds`` (a hung API server, from the client's side)."""
        with self.store.lock:
            self.store.stalls[(method, path)] = seconds

    def set_field(self, kind: str, name: str, namespace: str, path: Path_, value: Any) -> None:
        """Change a field behind everybody's back (a "manual change in the cluster")."""
        with self.store.lock:
            for key, obj in self.store.objects.items():
                if obj.get("kind") == kind and key[2] == namespace and key[3] == name:
                    _set(obj, path, value)
                    self.store.revision += 1
                    obj["metadata"]["resourceVersion"] = str(self.store.revision)
                    return
        raise KeyError(name)


# --- field paths ---------------------------------------------------------------------------------
def _leaves(value: Any, prefix: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Leaf paths; lists are atomic (see README: no list-map merge keys)."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*prefix, str(key)))
    else:
        yield prefix, value


def _lookup(obj: Any, path: Path_) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False, None
        obj = obj[key]
    return True, obj


def _set(obj: dict[str, Any], path: Path_, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            obj[key] = {}
        obj = obj[key]
    obj[path[-1]] = copy.deepcopy(value)


def _remove(obj: dict[str, Any], path: Path_) -> None:
    parents = []
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            return
        parents.append((obj, key))
        obj = obj[key]
    obj.pop(path[-1], None)
    for parent, key in reversed(parents):  # drop maps left empty
        if parent[key] == {}:
            del parent[key]
        else:
            break


def _fields_v1(paths: set[Path_]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


class _WatchEvents:
    def __init__(self, events: Iterator[dict[str, Any]]) -> None:
        self.events = list(events)


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def body(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


# --- HTTP ----------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    store: Store
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.store.lock:
            self.store.requests.append(Request(method, parts.path, query))
            stall = self.store.stalls.get((method, parts.path), 0.0)
        if stall:  # an API server that accepted the request and does not answer (yet)
            time.sleep(stall)
        try:
            code, payload = _route(self.store, method, parts.path, query, body, self.headers)
        except ApiError as exc:
            code, payload = exc.code, exc.body()
        if isinstance(payload, _WatchEvents):
            data = b"".join(json.dumps(event).encode() + b"\n" for event in payload.events)
        else:
            data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _route(
    store: Store, method: str, path: str, query: dict[str, str], body: bytes, headers: Any
) -> tuple[int, Any]:
    segments = [s for s in path.split("/") if s]
    if method == "GET":
        found = _discovery(store, segments)
        if found is not None:
            return 200, found
    if segments[:1] == ["api"] and segments[1:2] == ["v1"]:
        group, version, rest = "", "v1", segments[2:]
    elif segments[:1] == ["apis"] and len(segments) >= 3:
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    with store.lock:
        rtype = store.types.get((group, rest[0]))
        if rtype is None or rtype.version != version:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        name = rest[1] if len(rest) > 1 else ""
        if len(rest) > 2:  # sub-resources (status, scale, ...) are not modelled
            raise ApiError(404, "NotFound", f"sub-resource {rest[2]} not supported by the fake")
        return _handle(store, rtype, method, namespace, name, query, body, headers)


def _handle(
    store: Store,
    rtype: ResourceType,
    method: str,
    namespace: str,
    name: str,
    query: dict[str, str],
    body: bytes,
    headers: Any,
) -> tuple[int, Any]:
    key = (rtype.group, rtype.plural, namespace, name)
    if method == "GET" and not name:
        if store.namespaced_only and rtype.namespaced and not namespace:
            raise ApiError(
                403,
                "Forbidden",
                f'{rtype.plural} is forbidden: User "system:serviceaccount:promoter-system:promoter-reconciler" '
                f'cannot list resource "{rtype.plural}" in API group "{rtype.group}" at the cluster scope',
            )
        listing = _list(store, rtype, namespace, query)
        if query.get("watch") in ("true", "1"):  # one batch of ADDED events, then the stream ends
            return 200, _WatchEvents({"type": "ADDED", "object": item} for item in listing["items"])
        return 200, listing
    if not name:
        raise ApiError(405, "MethodNotAllowed", f"{method} on a collection is not supported by the fake")
    if method == "GET":
        if key not in store.objects:
            raise _not_found(rtype, name)
        return 200, store.objects[key]
    if method == "DELETE":
        if key not in store.objects:
            raise _not_found(rtype, name)
        obj = store.objects.pop(key)
        store.owners.pop(key, None)
        if rtype.kind == "Namespace":  # no finalizers: contents go at once
            for other in [k for k in store.objects if k[2] == name]:
                store.objects.pop(other)
                store.owners.pop(other, None)
        if rtype.kind == "CustomResourceDefinition":
            _unregister_crd(store, obj)
        return 200, obj
    if method == "PATCH":
        return _patch(store, rtype, key, query, body, headers.get("Content-Type", ""))
    raise ApiError(405, "MethodNotAllowed", f"{method} is not supported by the fake")


def _not_found(rtype: ResourceType, name: str) -> ApiError:
    group = f".{rtype.group}" if rtype.group else ""
    return ApiError(
        404,
        "NotFound",
        f'{rtype.plural}{group} "{name}" not found',
        {"name": name, "group": rtype.group, "kind": rtype.plural},
    )


def _selector_matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _list(store: Store, rtype: ResourceType, namespace: str, query: dict[str, str]) -> dict[str, Any]:
    """One page of a list: ``limit`` items at most, resumed after the key a ``continue`` token names."""
    limit = int(query.get("limit") or 0)
    after = _decode_continue(query["continue"]) if query.get("continue") else None
    items: list[dict[str, Any]] = []
    token = None
    last: tuple[str, str, str, str] | None = None
    for key, obj in sorted(store.objects.items()):
        group, plural, ns, _name = key
        if (group, plural) != (rtype.group, rtype.plural) or (namespace and ns != namespace):
            continue
        if after is not None and key <= after:
            continue
        meta = obj["metadata"]
        if not _selector_matches(meta.get("labels") or {}, query.get("labelSelector", "")):
            continue
        fields = {"metadata.name": meta["name"], "metadata.namespace": meta.get("namespace", "")}
        if not _selector_matches(fields, query.get("fieldSelector", "")):
            continue
        if limit and len(items) == limit and last is not None:
            token = _encode_continue(last)
            break
        items.append(obj)
        last = key
    metadata: dict[str, Any] = {"resourceVersion": str(store.revision)}
    if token:
        metadata["continue"] = token
    return {
        "apiVersion": rtype.group_version,
        "kind": f"{rtype.kind}List",
        "metadata": metadata,
        "items": items,
    }


def _encode_continue(key: tuple[str, str, str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_continue(token: str) -> tuple[str, str, str, str]:
    try:
        group, plural, namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "BadRequest", f"invalid continue token: {exc}") from exc
    return group, plural, namespace, name


def _patch(
    store: Store,
    rtype: ResourceType,
    key: tuple[str, str, str, str],
    query: dict[str, str],
    body: bytes,
    content_type: str,
) -> tuple[int, Any]:
    namespace, name = key[2], key[3]
    if rtype.namespaced and ("", "namespaces", "", namespace) not in store.objects:
        raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace})
    manager = query.get("fieldManager", "")
    dry_run = query.get("dryRun") == "All"
    current = store.objects.get(key)
    owners = copy.deepcopy(store.owners.get(key, {}))
    if content_type.startswith("application/apply-patch"):
        if not manager:
            raise ApiError(400, "BadRequest", "PATCH with apply requires fieldManager")
        config = _load_patch(body)
        _check_identity(rtype, config, namespace, name)
        new = _apply(current, config, owners, manager, force=query.get("force") == "true")
    elif content_type.startswith("application/merge-patch+json"):
        if current is None:
            raise _not_found(rtype, name)
        patch = json.loads(body or b"{}")
        new = _merge_patch(current, patch)
        changed = {p for p, _ in _leaves(patch) if p}
        manager = manager or "unknown"
        for other, (op, paths) in owners.items():
            if other != manager:
                owners[other] = (op, paths - changed)
        op, paths = owners.get(manager, ("Update", set()))
        owners[manager] = (op, paths | changed)
    else:
        raise ApiError(415, "UnsupportedMediaType", f"the fake does not support {content_type}")
    new = _finalize(store, rtype, current, new, owners, namespace, name)
    if not dry_run:
        created = current is None
        store.objects[key] = new
        store.owners[key] = owners
        if rtype.kind == "CustomResourceDefinition":
            _register_crd(store, new)
        return (201 if created else 200), new
    return 200, new


def _load_patch(body: bytes) -> dict[str, Any]:
    """kubectl sends apply patches as JSON (valid YAML); accept YAML too."""
    try:
        return json.loads(body or b"{}")
    except ValueError:
        from ruamel.yaml import YAML

        return YAML(typ="safe").load(body.decode()) or {}


def _check_identity(rtype: ResourceType, config: dict[str, Any], namespace: str, name: str) -> None:
    meta = config.get("metadata") or {}
    if config.get("kind") != rtype.kind or meta.get("name") != name:
        raise ApiError(400, "BadRequest", "the body does not match the URL (kind or name)")
    if rtype.namespaced and meta.get("namespace", namespace) != namespace:
        raise ApiError(400, "BadRequest", "the namespace of the body does not match the URL")


def _apply(
    current: dict[str, Any] | None,
    config: dict[str, Any],
    owners: dict[str, tuple[str, set[Path_]]],
    manager: str,
    *,
    force: bool,
) -> dict[str, Any]:
    """Server-side apply of ``config`` by ``manager``: conflicts, ownership transfer, removals."""
    config = {k: v for k, v in config.items() if k != "status"}
    config["metadata"] = {k: v for k, v in (config.get("metadata") or {}).items() if k not in _SERVER_FIELDS}
    new = copy.deepcopy(current) if current is not None else {}
    applied = {path: value for path, value in _leaves(config) if path}
    conflicts = []
    for path, value in applied.items():
        present, live = _lookup(new, path)
        if present and live == value:
            continue
        for other, (_op, paths) in owners.items():
            if other != manager and path in paths:
                conflicts.append((other, path))
    if conflicts and not force:
        causes = [
            {"type": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": "." + ".".join(p)}
            for m, p in conflicts
        ]
        message = "Apply failed with {} conflict{}: {}".format(
            len(conflicts),
            "" if len(conflicts) == 1 else "s",
            "; ".join(f'conflict with "{m}": .{".".join(p)}' for m, p in conflicts),
        )
        raise ApiError(409, "Conflict", message, {"causes": causes})
    taken = {path for _, path in conflicts}
    for other, (op, paths) in list(owners.items()):
        if other != manager:
            owners[other] = (op, paths - taken)
    previous = owners.get(manager, ("Apply", set()))[1]
    still_owned = (
        set().union(*(paths for m, (_, paths) in owners.items() if m != manager)) if owners else set()
    )
    for path in previous - set(applied) - still_owned:
        if path[:2] != ("metadata", "name"):
            _remove(new, path)
    for path, value in applied.items():
        _set(new, path, value)
    owners[manager] = ("Apply", set(applied))
    return new


def _finalize(
    store: Store,
    rtype: ResourceType,
    current: dict[str, Any] | None,
    new: dict[str, Any],
    owners: dict[str, tuple[str, set[Path_]]],
    namespace: str,
    name: str,
) -> dict[str, Any]:
    """Server-owned fields; the resourceVersion only moves when something changed."""
    new["apiVersion"], new["kind"] = rtype.group_version, rtype.kind
    meta = new.setdefault("metadata", {})
    meta["name"] = name
    if rtype.namespaced:
        meta["namespace"] = namespace
    owners_out = {m: v for m, v in owners.items() if v[1]}
    owners.clear()
    owners.update(owners_out)
    if rtype.kind == "Namespace":
        new["status"] = {"phase": "Active"}
    if rtype.kind == "CustomResourceDefinition":
        new["status"] = {
            "conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}]
        }
    if current is not None:
        meta["uid"] = current["metadata"]["uid"]
        meta["creationTimestamp"] = current["metadata"]["creationTimestamp"]
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        meta["generation"] = current["metadata"].get("generation", 1)
        meta["managedFields"] = current["metadata"].get("managedFields", [])
        if _strip(new) == _strip(current) and owners == store.owners.get(
            (rtype.group, rtype.plural, namespace, name), {}
        ):
            return current
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    store.revision += 1
    meta["resourceVersion"] = str(store.revision)
    meta.setdefault("uid", f"uid-{store.revision}")
    meta.setdefault("creationTimestamp", now)
    if current is not None and _strip(new).get("spec") != _strip(current).get("spec"):
        meta["generation"] = meta.get("generation", 1) + 1
    meta.setdefault("generation", 1)
    meta["managedFields"] = [
        {
            "manager": manager,
            "operation": op,
            "apiVersion": rtype.group_version,
            "time": now,
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_v1(paths),
        }
        for manager, (op, paths) in sorted(owners.items())
    ]
    return new


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for key in _SERVER_FIELDS:
        out.get("metadata", {}).pop(key, None)
    return out


def _register_crd(store: Store, crd: dict[str, Any]) -> None:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    for version in spec.get("versions") or []:
        if version.get("served", True):
            rtype = ResourceType(
                spec.get("group", ""),
                version["name"],
                names.get("kind", ""),
                names.get("plural", ""),
                spec.get("scope", "Namespaced") == "Namespaced",
            )
            store.types[(rtype.group, rtype.plural)] = rtype


def _unregister_crd(store: Store, crd: dict[str, Any]) -> None:
    spec = crd.get("spec") or {}
    plural = (spec.get("names") or {}).get("plural", "")
    store.types.pop((spec.get("group", ""), plural), None)
    for key in [k for k in store.objects if k[:2] == (spec.get("group", ""), plural)]:
        store.objects.pop(key)


# --- discovery and OpenAPI -----------------------------------------------------------------------
def _discovery(store: Store, segments: list[str]) -> Any | None:
    with store.lock:
        types = list(store.types.values())
    groups: dict[str, list[ResourceType]] = {}
    for rtype in types:
        groups.setdefault(rtype.group_version, []).append(rtype)
    if segments == ["version"]:
        return {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake", "platform": "linux/amd64"}
    if segments == ["api"]:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if segments == ["apis"]:
        names = sorted({t.group for t in types if t.group})
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": name,
                    "versions": [
                        {"groupVersion": gv, "version": gv.split("/")[1]}
                        for gv in sorted(groups)
                        if gv.startswith(name + "/")
                    ],
                    "preferredVersion": {
                        "groupVersion": next(gv for gv in sorted(groups) if gv.startswith(name + "/")),
                        "version": next(gv for gv in sorted(groups) if gv.startswith(name + "/")).split("/")[
                            1
                        ],
                    },
                }
                for name in names
            ],
        }
    gv = None
    if segments == ["api", "v1"]:
        gv = "v1"
    elif len(segments) == 3 and segments[0] == "apis":
        gv = f"{segments[1]}/{segments[2]}"
    if gv is not None and gv in groups:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": [
                {
                    "name": t.plural,
                    "singularName": t.kind.lower(),
                    "shortNames": SHORT_NAMES.get(t.plural, []),
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
                for t in groups[gv]
            ],
        }
    if segments == ["openapi", "v3"]:
        return {
            "paths": {
                (f"apis/{g}" if "/" in g else "api/v1"): {
                    "serverRelativeURL": f"/openapi/v3/{_gv_path(g)}?hash=0"
                }
                for g in groups
            }
        }
    if segments[:2] == ["openapi", "v3"]:
        wanted = "/".join(segments[2:])
        for g, members in groups.items():
            if _gv_path(g) == wanted:
                return _openapi_document(members)
    return None


def _gv_path(group_version: str) -> str:
    return f"apis/{group_version}" if "/" in group_version else "api/v1"


def _openapi_document(members: list[ResourceType]) -> dict[str, Any]:
    """Just enough for kubectl to see that PATCH supports ``fieldValidation``; no schemas."""
    paths = {}
    for t in members:
        scope = "/namespaces/{namespace}" if t.namespaced else ""
        gvk = {"group": t.group, "version": t.version, "kind": t.kind}
        paths[f"{t.prefix}{scope}/{t.plural}/{{name}}"] = {
            "patch": {
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (fake)", "version": "v1.32.0"}, "paths": paths}
