"""Render a directory of the env repo into Kubernetes objects.

A directory holding ``kustomization.yaml`` is rendered by ``kubectl kustomize``, one holding ``Chart.yaml``
by ``helm template`` (only when helm is on PATH), and any other directory contributes its ``*.yaml``,
``*.yml`` and ``*.json`` files and its sub-directories. Errors are collected per file or directory so the
caller can refuse to prune and name every culprit. A symbolic link anywhere in the tree is an error: the
reconciler never follows a link out of the env repo.

Plain files are parsed once per content: a :class:`RenderCache` keeps each file's objects under its git
blob id, so a pass over an unchanged tree parses nothing (Kustomize and Helm always run).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promoter.reconcile.kubectl import Kubectl

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
SKIPPED_FILES = {"promoter.yaml", "promoter.yml"}  # the env repo's own configuration


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identity of one object; ``namespace`` is empty for cluster-scoped objects."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity regardless of the API version: (group, kind, namespace, name)."""
        return self.group, self.kind, self.namespace, self.name

    @property
    def type_name(self) -> str:
        """``Kind.version.group`` as kubectl understands it, unambiguous across API groups."""
        return f"{self.kind}.{self.version}.{self.group}"

    @property
    def type_arg(self) -> str:
        """``Kind.version.group/name`` as kubectl understands it, unambiguous across API groups."""
        return f"{self.kind}.{self.version}.{self.group}/{self.name}"

    @property
    def diff_name(self) -> str:
        """The file name ``kubectl diff`` gives this object."""
        group = f"{self.group}." if self.group else ""
        return f"{group}{self.version}.{self.kind}.{self.namespace}.{self.name}"

    def as_dict(self) -> dict[str, str]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> ObjectRef:
        return cls(data["apiVersion"], data["kind"], data.get("namespace", ""), data["name"])

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind}/{where}"


@dataclass
class Manifest:
    obj: dict[str, Any]
    source: str  # file or directory, relative to the rendered root
    _ref: ObjectRef | None = field(default=None, repr=False, compare=False)

    @property
    def ref(self) -> ObjectRef:
        """The object's identity (cached: call :meth:`moved` after changing its namespace)."""
        if self._ref is None:
            meta = self.obj.get("metadata") or {}
            namespace = meta.get("namespace") or ""
            self._ref = ObjectRef(self.obj["apiVersion"], self.obj["kind"], namespace, meta["name"])
        return self._ref

    def moved(self) -> None:
        self._ref = None


@dataclass(frozen=True)
class RenderError:
    path: str
    message: str
    operational: bool = False  # a missing program, not the env repo's content: exit 1, not 3

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Rendered:
    manifests: list[Manifest] = field(default_factory=list)
    errors: list[RenderError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class RenderCache:
    """The objects of plain manifest files by git blob id (a file's objects are a function of its bytes).

    Entries are JSON text, so every pass gets fresh objects to label without a deep copy; entries not
    used by the last render are dropped. With a ``path`` (next to the checkout, which holds the same
    content) the cache outlives the process, so ``--once`` runs do not parse unchanged files either.
    """

    FORMAT = 1

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._entries: dict[str, str] | None = None if path else {}
        self._used: dict[str, str] = {}

    def _load(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = {}
            try:
                data = json.loads(self.path.read_text(encoding="utf-8")) if self.path else None
                if isinstance(data, dict) and data.get("format") == self.FORMAT:
                    entries = data.get("entries")
                    self._entries = {str(k): str(v) for k, v in (entries or {}).items()}
            except (OSError, ValueError):
                pass  # no cache yet, or an unreadable one: parse afresh
        return self._entries

    def get(self, blob: str | None) -> list[dict[str, Any]] | None:
        text = self._load().get(blob) if blob else None
        if text is None or blob is None:
            return None
        self._used[blob] = text
        loaded: list[dict[str, Any]] = json.loads(text)
        return loaded

    def put(self, blob: str | None, objects: list[dict[str, Any]]) -> None:
        if blob:
            self._used[blob] = json.dumps(objects, separators=(",", ":"))

    def finish(self) -> None:
        """Keep only what the last render used (and store it, when it changed)."""
        changed = self._used.keys() != self._load().keys()
        self._entries, self._used = self._used, {}
        if self.path is not None and changed:
            _write_private(self.path, json.dumps({"format": self.FORMAT, "entries": self._entries}))


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a file only its owner can read."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        pass  # a cache: the next run parses again


def render_tree(
    root: Path,
    kubectl: Kubectl,
    *,
    helm: str | None = None,
    blobs: Mapping[str, str] | None = None,
    cache: RenderCache | None = None,
) -> Rendered:
    """Render everything under ``root``; ``helm`` defaults to the helm found on PATH.

    ``blobs`` maps file paths relative to ``root`` to their git blob ids; with a ``cache``, a file whose
    blob was parsed before is not parsed again.
    """
    helm = helm if helm is not None else shutil.which("helm")
    result = Rendered()
    if root.is_symlink() or not root.is_dir():
        problem = "is a symbolic link" if root.is_symlink() else "does not exist in the env repo"
        result.errors.append(RenderError(root.name or str(root), f"path {problem}"))
        return result
    for directory, kind, files in _walk(root, result):
        rel = directory.relative_to(root).as_posix() or "."
        try:
            if kind == "kustomize":
                text = kubectl.run(["kustomize", str(directory)], check=False)
                if text.returncode != 0:
                    result.errors.append(RenderError(rel, f"kubectl kustomize failed: {text.error_text()}"))
                    continue
                _add_documents(result, text.stdout, rel)
            elif kind == "helm":
                if not helm:
                    result.errors.append(
                        RenderError(
                            rel,
                            "Helm chart found but helm is not on PATH; install helm to render it",
                            operational=True,
                        )
                    )
                    continue
                _render_helm(result, helm, directory, rel)
            else:
                prefix = "" if rel == "." else f"{rel}/"
                for name in files:
                    source = prefix + name
                    _add_file(result, directory / name, source, (blobs or {}).get(source), cache)
        except (OSError, UnicodeDecodeError) as exc:
            result.errors.append(RenderError(rel, f"cannot read: {exc}"))
    if cache is not None:
        cache.finish()
    _check_duplicates(result)
    return result


def _add_file(result: Rendered, file: Path, source: str, blob: str | None, cache: RenderCache | None) -> None:
    cached = cache.get(blob) if cache is not None else None
    if cached is not None:
        result.manifests.extend(Manifest(obj, source) for obj in cached)
        return
    before = (len(result.manifests), len(result.errors))
    _add_documents(result, file.read_text(encoding="utf-8-sig"), source)
    if cache is not None and len(result.errors) == before[1]:
        cache.put(blob, [m.obj for m in result.manifests[before[0] :]])


def _walk(root: Path, result: Rendered) -> Iterator[tuple[Path, str, list[str]]]:
    """Directories in a stable order with how to render each and, for plain ones, their manifest files;
    rendered directories are not descended. Symbolic links are recorded as errors and never followed."""
    stack = [root]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        links = {e.name for e in entries if e.is_symlink()}
        for name in sorted(links):
            if not name.startswith("."):
                rel = (directory / name).relative_to(root).as_posix()
                result.errors.append(
                    RenderError(rel, "is a symbolic link: refused (links are never followed)")
                )
        names = {e.name for e in entries} - links
        if names & set(KUSTOMIZATION_FILES):
            yield directory, "kustomize", []
            continue
        if "Chart.yaml" in names:
            yield directory, "helm", []
            continue
        files = [e.name for e in entries if e.name not in links and _is_manifest(e)]
        yield directory, "plain", files
        subdirs = [
            Path(e.path)
            for e in entries
            if e.name not in links and e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
        ]
        stack.extend(reversed(subdirs))


def _is_manifest(entry: os.DirEntry[str]) -> bool:
    name = entry.name
    return (
        name.endswith(MANIFEST_SUFFIXES)
        and not name.startswith(".")
        and name not in SKIPPED_FILES
        and entry.is_file(follow_symlinks=False)
    )


def _render_helm(result: Rendered, helm: str, directory: Path, rel: str) -> None:
    import subprocess

    done = subprocess.run(
        [helm, "template", directory.name, str(directory)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
        result.errors.append(RenderError(rel, f"helm template failed: {first}"))
        return
    _add_documents(result, done.stdout, rel)


@functools.lru_cache(maxsize=1)
def _constructor() -> Any:
    """The safe constructor, but timestamps stay strings, as Kubernetes reads YAML (via JSON)."""
    from ruamel.yaml.constructor import SafeConstructor

    class KubernetesConstructor(SafeConstructor):
        pass

    KubernetesConstructor.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)
    return KubernetesConstructor


def load_manifests(text: str) -> list[Any]:
    """Every YAML document of ``text`` as Kubernetes would read it (raises ruamel's YAMLError)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    yaml.Constructor = _constructor()
    return list(yaml.load_all(text))


def _add_documents(result: Rendered, text: str, source: str) -> None:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        documents = load_manifests(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        result.errors.append(RenderError(where, f"YAML does not parse: {exc.problem or exc.context}"))
        return
    except YAMLError as exc:
        result.errors.append(RenderError(source, f"YAML does not parse: {exc}"))
        return
    for index, document in enumerate(documents):
        if document is None:
            continue
        for obj in _expand_lists(document):
            problem = _invalid(obj)
            if problem:
                result.errors.append(RenderError(source, f"document {index + 1}: {problem}"))
            else:
                result.manifests.append(Manifest(obj, source))


def _expand_lists(document: Any) -> Iterator[Any]:
    if isinstance(document, dict) and str(document.get("kind", "")).endswith("List") and "items" in document:
        for item in document.get("items") or []:
            yield from _expand_lists(item)
    else:
        yield document


def _invalid(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return "not a Kubernetes object (expected a mapping)"
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        return "not a Kubernetes object (apiVersion and kind are required)"
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        return f"{obj['kind']} without metadata.name"
    try:
        json.dumps(obj)
    except (TypeError, ValueError) as exc:
        return f"{obj['kind']} {meta['name']} holds a value JSON cannot express ({exc})"
    return None


def _check_duplicates(result: Rendered) -> None:
    seen: dict[tuple[str, str, str, str], str] = {}
    for manifest in result.manifests:
        ref = manifest.ref
        key = (ref.group, ref.kind, ref.namespace, ref.name)
        if key in seen:
            result.errors.append(RenderError(manifest.source, f"{ref} is also defined in {seen[key]}"))
        else:
            seen[key] = manifest.source
