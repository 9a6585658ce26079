"""Hashes that let a pass skip objects that did not change, without asking the API server per object.

Per object the inventory keeps two hashes from the last time promoter applied it (or saw it in sync):

- ``desired``: the manifest promoter applies (labels and annotations included), canonical JSON;
- ``live``: the live object restricted to the fields that manifest sets (lists compared whole), as the
  API server returned it, so defaults, normalisation and fields owned by others never count.

An object is in sync when the render gives the same ``desired`` hash and the server-side list gives the
same ``live`` hash: nothing changed in Git and nobody changed a field promoter manages in the cluster.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_ABSENT = "\x00absent"
_DIGEST_SIZE = 8


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_SIZE).hexdigest()


def desired_hash(obj: dict[str, Any]) -> str:
    return _digest(obj)


def project(desired: Any, live: Any) -> Any:
    """``live`` cut down to the shape of ``desired``: mappings recursively, anything else whole."""
    if isinstance(desired, dict) and desired:
        if not isinstance(live, dict):
            return _ABSENT if live is _ABSENT else live
        return {key: project(value, live.get(key, _ABSENT)) for key, value in desired.items()}
    return live


def live_hash(desired: dict[str, Any], live: dict[str, Any]) -> str:
    shaped = project({k: v for k, v in desired.items() if k != "status"}, live)
    return _digest(shaped)
