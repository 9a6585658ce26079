"""Field types the sections share: non-empty text, durations, branch names, paths, URLs, templates."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from promoter.config import values
from promoter.config.section import describe

__all__ = [
    "Count",
    "Positive",
    "Seconds",
    "Text",
    "branch_doc",
    "directory_doc",
    "duration_doc",
    "file_doc",
    "path_or",
    "template_doc",
    "url_doc",
]

# A string that is not empty; integers from 0 and from 1.
Text = Annotated[str, msgspec.Meta(min_length=1)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(ge=1)]

# A duration: written as seconds or a string like 7d, read as seconds (see duration_doc).
if TYPE_CHECKING:
    Seconds = int
else:
    Seconds = int | Text


def path_or(section: type) -> Any:
    """The runtime type of a list item written as a relative path or as a ``section`` mapping."""
    path = Annotated[str, msgspec.Meta(min_length=1, extra_json_schema={"pattern": values.FILE_PATTERN})]
    return path | section


def duration_doc(description: str, *, minimum: int = 1) -> msgspec.Meta:
    def convert(value: Any) -> int:
        return values.parse_duration(value, minimum=minimum)

    lowest = {"minimum": minimum} if minimum else {}
    return describe(
        description,
        convert=convert,
        expected="a duration",
        hint=values.DURATION_HINT,
        type_text="duration",
        to_yaml=values.format_duration,
        schema={
            "anyOf": [
                {"type": "integer", **lowest},
                {"type": "string", "pattern": values.DURATION_PATTERN},
            ],
            "examples": ["30s", "5m", "1h", "7d"],
        },
    )


def _string_doc(
    description: str,
    check: Callable[[str], str | None],
    expected: str,
    type_text: str,
    pattern: str | None,
    **details: Any,
) -> msgspec.Meta:
    schema = {"pattern": pattern} if pattern else None
    return describe(
        description, check=check, expected=expected, type_text=type_text, schema=schema, **details
    )


def branch_doc(description: str, **details: Any) -> msgspec.Meta:
    return _string_doc(
        description,
        values.branch_name_problem,
        "a branch name",
        "git branch name",
        values.BRANCH_PATTERN,
        **details,
    )


def url_doc(description: str, **details: Any) -> msgspec.Meta:
    return _string_doc(description, values.url_problem, "a URL", "http(s) URL", values.URL_PATTERN, **details)


def file_doc(description: str, **details: Any) -> msgspec.Meta:
    return _string_doc(
        description,
        values.file_problem,
        "a relative file path",
        "relative path",
        values.FILE_PATTERN,
        **details,
    )


def directory_doc(description: str, *, below_root: bool = False, **details: Any) -> msgspec.Meta:
    check = values.sub_directory_problem if below_root else values.directory_problem
    return _string_doc(
        description,
        check,
        "a relative directory",
        "relative directory",
        values.RELATIVE_PATH_PATTERN,
        **details,
    )


def template_doc(description: str, **details: Any) -> msgspec.Meta:
    """A Jinja template string (rendered by promoter.templating; checked by ``promoter validate``)."""
    return describe(description, type_text="template string", **details)
