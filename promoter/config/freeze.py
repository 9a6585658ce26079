"""``environments.<name>.freeze:``: windows in which promoter changes nothing in an environment.

A window is either absolute (``from`` .. ``until``, two timestamps with a UTC offset) or recurring (``days``
of the week, ``start`` .. ``end`` as ``HH:MM`` in ``timezone``; it may cross midnight: ``end`` < ``start``;
``end: "24:00"`` is the end of the day). ``bump``, ``promote`` and ``rollback`` into a frozen environment are
refused (exit 4) unless ``--override-gates REASON`` (:mod:`promoter.gates.freeze` decides, DST-proof).
"""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec

from promoter.config.fieldtypes import Text
from promoter.config.section import CustomValue, Mismatch, Problem, Section, decode_nested, describe

__all__ = ["DAYS", "END_OF_DAY", "AbsoluteFreezeWindow", "FreezeWindow", "RecurringFreezeWindow"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
END_OF_DAY = "24:00"
_END_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _clock_problem(text: str) -> str | None:
    return None if _CLOCK_RE.fullmatch(text) else "write a time of day as HH:MM (00:00 to 23:59)"


def _end_problem(text: str) -> str | None:
    if text == END_OF_DAY or _CLOCK_RE.fullmatch(text):
        return None
    return "write a time of day as HH:MM (00:00 to 23:59, or 24:00 for the end of the day)"


def _days_problem(days: tuple[str, ...]) -> str | None:
    wrong = [day for day in days if day not in DAYS]
    return f"{wrong[0]!r} is not one of {', '.join(DAYS)}" if wrong else None


def _zone_problem(name: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (an IANA name such as Europe/Berlin or UTC)"
    return None


def _aware(moment: datetime) -> str | None:
    return None if moment.tzinfo is not None else "add a UTC offset, e.g. 2026-12-20T00:00:00+01:00"


class FreezeWindow(CustomValue):
    """A freeze window: :class:`AbsoluteFreezeWindow` or :class:`RecurringFreezeWindow`."""

    __slots__ = ()
    reason: str
    expected: ClassVar[str] = "a mapping"

    @classmethod
    def decode(cls, value: Any) -> "FreezeWindow":
        if not isinstance(value, dict):
            raise Mismatch("a mapping", hint=f"for example: {RecurringFreezeWindow.example}")
        shape: type[FreezeWindow] = RecurringFreezeWindow if "days" in value else AbsoluteFreezeWindow
        window: FreezeWindow = decode_nested(value, shape)
        return window

    @classmethod
    def json_schema(cls, schema_of: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        return {"oneOf": [schema_of(AbsoluteFreezeWindow), schema_of(RecurringFreezeWindow)]}

    @classmethod
    def type_text(cls, text_of: Callable[[Any], str]) -> str:
        return "freeze window"


class AbsoluteFreezeWindow(Section, FreezeWindow, frozen=True):
    """From one moment until another (e.g. a year-end freeze)."""

    example = '{from: "2026-12-20T00:00:00+01:00", until: "2027-01-04T00:00:00+01:00", reason: year-end}'

    start: Annotated[
        datetime,
        describe(
            "Start of the window: a timestamp with a UTC offset.",
            check=_aware,
            expected="a timestamp",
            schema={"pattern": _TIMESTAMP_PATTERN},
        ),
    ] = msgspec.field(name="from")
    until: Annotated[
        datetime,
        describe(
            "End of the window (exclusive).",
            check=_aware,
            expected="a timestamp",
            schema={"pattern": _TIMESTAMP_PATTERN},
        ),
    ]
    reason: Annotated[Text, describe("Why: shown when promoter refuses a change.")]

    def check(self) -> None:
        if self.until <= self.start:
            raise Problem("{label} must be later than 'from'", at=("until",))


class RecurringFreezeWindow(Section, FreezeWindow, frozen=True):
    """Every week on some days between two times of day (e.g. no Friday deploys)."""

    example = (
        "{days: [fri], start: '16:00', end: '23:59', timezone: Europe/Berlin, reason: no Friday deploys}"
    )

    days: Annotated[
        tuple[Text, ...],
        describe(
            "Days of the week the window starts on: `mon` .. `sun`.",
            check=_days_problem,
            type_text="list of `mon` .. `sun`",
            min_length=1,
            schema={"items": {"enum": list(DAYS)}},
        ),
    ]
    start: Annotated[
        Text,
        describe(
            "Time of day the window starts.",
            check=_clock_problem,
            type_text="`HH:MM`",
            schema={"pattern": _CLOCK_PATTERN},
        ),
    ]
    end: Annotated[
        Text,
        describe(
            "Time of day it ends (exclusive); before `start`: the next day; `24:00`: the end of the day.",
            check=_end_problem,
            type_text="`HH:MM`",
            schema={"pattern": _END_PATTERN},
        ),
    ]
    reason: Annotated[Text, describe("Why: shown when promoter refuses a change.")]
    timezone: Annotated[Text, describe("IANA time zone of `start` and `end`.", check=_zone_problem)] = "UTC"

    def check(self) -> None:
        if self.start == self.end:
            raise Problem("{label} equals 'start': the window would be empty", at=("end",))
