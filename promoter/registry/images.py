"""When an image was built: the ``created`` time of its configuration (``RegistryClient.image_config``).

A tag that does not exist, or a config without a readable ``created``, gives ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from promoter.imageref import ImageRef
from promoter.registry.client import RegistryClient

_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.IGNORECASE)


def parse_created(value: object) -> datetime | None:
    """An RFC 3339 time as Go writes it (up to nanoseconds, ``Z``) -> an aware datetime; else None."""
    if not isinstance(value, str):
        return None
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        return None
    fraction = (match.group(2) or "")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3).upper() == "Z" else match.group(3)
    try:
        parsed = datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


def image_created(client: RegistryClient, ref: ImageRef) -> datetime | None:
    """When the image ``ref`` names was built (for an index: its linux/amd64 image); None when unknown."""
    return parse_created(client.image_config(ref).get("created"))
