"""Holds: an app pinned in an environment until someone releases it (rollback places one).

A hold lives in the env repo, on the environment's branch, in one small file under the environment's
path, ``.promoter/holds.yaml``, so it is reviewed, versioned and seen by every pipeline like any other
change::

    # Apps held in this environment: bump, promote and update leave them alone until
    # `promoter release ENV --app APP` (or a change made with --override-gates REASON).
    holds:
      api:
        reason: "rolled back from 1.4.2 to 1.4.1: checkout errors"
        by: "alice (https://gitlab.example.com/acme/api/-/pipelines/812)"
        at: "2026-12-01T14:32:05Z"

promoter writes the whole file (it is its own, and tiny), apps sorted, values double-quoted; it reads a
file people edited as long as it keeps this shape, and names the line and column when it does not.
"""

from __future__ import annotations

import json
import posixpath
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from promoter.errors import InputError
from promoter.gates.clock import as_utc, iso_utc

if TYPE_CHECKING:  # pragma: no cover
    from promoter.config import Environment

__all__ = ["HOLDS_FILE", "Hold", "holds_path", "parse_holds", "render_holds"]

HOLDS_FILE = ".promoter/holds.yaml"
_HEADER = (
    "# Apps held in this environment: bump, promote and update leave them alone until\n"
    "# `promoter release ENV --app APP` (or a change made with --override-gates REASON).\n"
)
_FIELDS = ("reason", "by", "at")
_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


@dataclass(frozen=True)
class Hold:
    """Who held ``app`` in an environment, when, and why."""

    app: str
    reason: str
    by: str
    at: datetime

    def describe(self) -> str:
        """``held by alice since 2026-12-01 14:32 UTC: rolled back ...``"""
        return f"held by {self.by} since {as_utc(self.at).strftime('%Y-%m-%d %H:%M UTC')}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"app": self.app, "reason": self.reason, "by": self.by, "at": iso_utc(self.at)}


def holds_path(env: Environment) -> str:
    """Repo-relative path of ``env``'s holds file."""
    return posixpath.normpath(posixpath.join(env.path or ".", HOLDS_FILE))


def one_line(text: str) -> str:
    """``text`` on one line without control characters (a hold's fields are shown in tables and logs)."""
    flat = " ".join(str(text).split())
    return "".join(ch for ch in flat if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))


def render_holds(holds: Mapping[str, Hold]) -> str:
    """The whole holds file for ``holds`` (app -> hold), apps sorted; verified to read back the same."""
    lines = [_HEADER.rstrip("\n"), "holds:" + ("" if holds else " {}")]
    for app in sorted(holds):
        hold = holds[app]
        lines.append(f"  {_key(app)}:")
        lines.append(f"    reason: {_quoted(one_line(hold.reason))}")
        lines.append(f"    by: {_quoted(one_line(hold.by))}")
        lines.append(f"    at: {_quoted(iso_utc(hold.at))}")
    text = "\n".join(lines) + "\n"
    back = parse_holds(text, "<holds>")
    if {app: h.as_dict() for app, h in back.items()} != {
        app: _normal(h).as_dict() for app, h in holds.items()
    }:
        raise AssertionError("the holds file does not read back as written")  # pragma: no cover
    return text


def parse_holds(text: str | None, name: str) -> dict[str, Hold]:
    """The holds in a holds file's ``text`` (None or empty: no holds); :class:`InputError` at
    ``name:line:col`` when the file is not a holds file."""
    if text is None or not text.strip():
        return {}
    from promoter.yamledit import YamlDocument

    document = YamlDocument.parse(text, name)
    roots = [root for root in document.roots if root is not None]
    if len(roots) != 1:
        raise InputError(f"{name} must hold one YAML document", where=name)
    root = _mapping(document, roots[0], "the file")
    holds_node = _get(root, "holds")
    if holds_node is None:
        raise _problem(document, root, "has no 'holds:' mapping")
    if _is_null(holds_node):
        return {}
    out: dict[str, Hold] = {}
    for key, value in _mapping(document, holds_node, "holds").value:
        app = _scalar(document, key, "an app name")
        fields = _mapping(document, value, f"holds.{app}")
        found = {}
        for key_node, value_node in fields.value:
            field = _scalar(document, key_node, "a field name")
            if field not in _FIELDS:
                raise _problem(document, key_node, f"holds.{app} has unknown field {field!r}")
            found[field] = value_node
        for needed in _FIELDS:
            if needed not in found:
                raise _problem(document, fields, f"holds.{app} lacks '{needed}'")
        at_text = _scalar(document, found["at"], "a timestamp")
        try:
            at = as_utc(datetime.fromisoformat(at_text.replace("Z", "+00:00")))
        except ValueError:
            raise _problem(document, found["at"], f"holds.{app}.at is not a timestamp with offset") from None
        out[app] = Hold(
            app=app,
            reason=_scalar(document, found["reason"], "text"),
            by=_scalar(document, found["by"], "text"),
            at=at,
        )
    return out


def _normal(hold: Hold) -> Hold:
    return Hold(hold.app, one_line(hold.reason), one_line(hold.by), as_utc(hold.at).replace(microsecond=0))


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _key(app: str) -> str:
    """An app name as a mapping key: plain when YAML reads it back as that string, else quoted."""
    if _PLAIN_KEY.fullmatch(app) and app.lower() not in _YAML11_WORDS:
        return app
    return _quoted(app)


# -- reading composed nodes -------------------------------------------------------------------------------
def _problem(document: Any, node: Any, what: str) -> InputError:
    return InputError(
        f"{document.name}: {what}",
        where=document.where(node.start_mark.index),
        hint="a holds file is `holds: {APP: {reason: ..., by: ..., at: ...}}`; "
        "`promoter hold` and `promoter release` write it",
    )


def _mapping(document: Any, node: Any, what: str) -> Any:
    from ruamel.yaml.nodes import MappingNode

    if not isinstance(node, MappingNode):
        raise _problem(document, node, f"{what} must be a mapping")
    return node


def _scalar(document: Any, node: Any, what: str) -> str:
    from ruamel.yaml.nodes import ScalarNode

    if not isinstance(node, ScalarNode) or _is_null(node):
        raise _problem(document, node, f"expected {what}")
    return str(node.value)


def _get(mapping: Any, key: str) -> Any:
    for key_node, value in mapping.value:
        if getattr(key_node, "value", None) == key:
            return value
    return None


def _is_null(node: Any) -> bool:
    return str(getattr(node, "tag", "")).endswith(":null")
