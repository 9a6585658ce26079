"""``docs/config.md`` and ``schema/promoter.schema.json``, generated from the config model.

Run from a checkout after changing the model: ``python -m promoter.config.docs --write`` (``--check`` exits 1
when the committed files differ; a test does the same). The reference tables come from the sections' fields
and docstrings, the complete example is ``tests/fixtures/config/full.yaml``, the rest of the page is below.
"""

from __future__ import annotations

import argparse
import sys
import types
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import msgspec

from promoter.config.apps import App, FileTarget
from promoter.config.deploy import (
    ArgoCDSource,
    CommitStatusSource,
    DeploySettings,
    FluxSource,
    PromoterSource,
)
from promoter.config.environments import Environment
from promoter.config.forge import ForgeConfig
from promoter.config.freeze import AbsoluteFreezeWindow, RecurringFreezeWindow
from promoter.config.git import GitSettings
from promoter.config.previews import PreviewSettings
from promoter.config.promotion import CopyRule, Promotion
from promoter.config.root import Config
from promoter.config.schema import SCHEMA_URL, describe_class, members, schema_text, to_json, unwrap
from promoter.config.section import CustomValue, FieldDoc, Section, field_doc, is_internal
from promoter.config.update import UpdatePolicy

__all__ = ["DOCS_FILE", "EXAMPLE_FILE", "SCHEMA_FILE", "generated_files", "main", "reference"]

DOCS_FILE = "docs/config.md"
SCHEMA_FILE = "schema/promoter.schema.json"
EXAMPLE_FILE = "tests/fixtures/config/full.yaml"

# (heading, section, lead-in); the order of docs/config.md
SECTIONS: list[tuple[str, type[Section], str]] = [
    ("Top level", Config, ""),
    ("`forge`", ForgeConfig, ""),
    ("`git`", GitSettings, ""),
    ("`environments.<name>`", Environment, ""),
    ("`environments.<name>.deploy`", DeploySettings, ""),
    ("`deploy.argocd`", ArgoCDSource, ""),
    ("`deploy.flux`", FluxSource, ""),
    ("`deploy.commit-status`", CommitStatusSource, ""),
    ("`deploy.promoter`", PromoterSource, ""),
    (
        "`environments.<name>.freeze[]`",
        AbsoluteFreezeWindow,
        "A freeze window is absolute, or recurring when it has `days`. Absolute:",
    ),
    ("", RecurringFreezeWindow, "Recurring:"),
    ("`apps.<name>`", App, ""),
    ("File target", FileTarget, ""),
    ("`apps.<name>.update`", UpdatePolicy, ""),
    ("`promotion[]`", Promotion, ""),
    ("Copy rule", CopyRule, ""),
    ("`previews`", PreviewSettings, ""),
]

_HEAD = """\
# `promoter.yaml`

`promoter.yaml` describes an environment repository (env repo): which environments it holds, which apps run
in them and in which files their image tags live, how changes are committed, which environments need an
approving merge request, how promotions copy versions from one environment to the next, how preview
environments are created, where promoter sees a change deployed, and when it must change nothing.

<!-- Generated from the config model (promoter/config/) by `python -m promoter.config.docs --write`. -->

## Where promoter looks for it

1. `--config FILE` (or `PROMOTER_CONFIG`). A file named here that does not exist is an error, never a
   fallback.
2. `promoter.yaml` in the current directory (typically the app repo running the pipeline).
3. `promoter.yaml` at the root of the env repo's default branch (`--repo`, `PROMOTER_REPO`, or `repo:`).

`--repo` and `PROMOTER_REPO` override `repo:` in the file.

## Completion and checks in editors

The JSON Schema of this file is published at `{schema_url}` (in the repository: `schema/promoter.schema.json`;
`promoter config schema` prints it). Editors with the YAML language server (VS Code's YAML extension, Neovim,
JetBrains IDEs) complete keys, show these descriptions and flag mistakes when the file starts with:

```
# yaml-language-server: $schema={schema_url}
```

`promoter init` writes that line. The schema checks keys, types, patterns and the rules within a section;
rules across sections (a promotion naming an unknown environment) and the env repo's content are checked by
`promoter validate`.

## A complete example

Every key promoter reads, each with a value that differs from its default (keys that exclude each other, such
as the deployment sources, appear as comments):

```yaml
{example}```

The same file is `tests/fixtures/config/full.yaml`; `minimal.yaml` and `directories.yaml` next to it are the
smallest useful config and a directory-per-environment layout.

## Reference

Each table lists a section's keys: type, default, meaning. Durations are seconds or strings such as `30s`,
`5m`, `12h`, `7d`, `2w`, `1d12h`. Templates are Jinja expressions such as `{{{{ app }}}}-{{{{ env }}}}`.
"""

_TAIL = """\
## Rules that apply everywhere

- Unknown keys are errors; the hint lists the valid keys, closest match first.
- Duplicate keys are errors (YAML would silently keep the last one).
- Types are strict: `approval: "yes"` is a string, not a boolean; a branch written as `2024` must be quoted.
- Paths are relative to the env repo, use `/`, and never contain `..`; nothing resolves outside the repo.
- `key:` with no value means the default.
- Anchors, aliases and `<<` merge keys work.

## Errors

Every problem is reported once, as exit code 2, with the place of the offending key:

```
promoter: error: unknown key 'aproval' in 'environments.production' (promoter.yaml:6:5)
hint: did you mean 'approval'? valid keys here: {valid_keys}
```

YAML that does not parse is reported the same way (exit 2, with the line and column where parsing failed).
`promoter validate` reports every problem of the config and the env repo in one run.
"""

_TOP_NOTES = """\
Environment and app names are letters, digits, `-`, `_` and inner `.`, at most 63 characters: they become
parts of branch names such as `promoter/production/api`."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _plural(text: str) -> str:
    return text if text.endswith("s") or text.startswith("`") else f"{text}s"


def type_text(annotation: Any, fdoc: FieldDoc | None = None) -> str:
    """The type column: ``git branch name``, ```gitlab`, `github` or `none```, ``list of strings``, ..."""
    if fdoc is not None and fdoc.type_text:
        return fdoc.type_text
    inner, metas = unwrap(annotation)
    inner_doc = next((m.extra["promoter"] for m in metas if m.extra and "promoter" in m.extra), None)
    if inner_doc is not None and inner_doc.type_text and inner_doc is not fdoc:
        return str(inner_doc.type_text)
    options = [m for m in members(inner) if m is not type(None)]
    if len(options) > 1:
        return " or ".join(type_text(option) for option in options)
    only, more = unwrap(options[0])
    metas = [*metas, *more]
    if get_origin(only) is Literal:
        values = [f"`{v}`" for v in get_args(only)]
        return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
    if get_origin(only) is tuple:
        return f"list of {_plural(type_text(get_args(only)[0]))}"
    if isinstance(only, type) and issubclass(only, CustomValue):
        return only.type_text(type_text)
    if isinstance(only, type) and issubclass(only, Section):
        return "mapping"
    lowest = next((m.ge for m in metas if m.ge is not None), None)
    if only is int:
        return "integer" if lowest is None else f"integer >= {lowest}"
    names = {bool: "boolean", str: "string", float: "number", datetime: "timestamp"}
    if isinstance(only, type) and only in names:
        return names[only]
    if isinstance(only, types.GenericAlias):
        return str(only)
    return getattr(only, "__name__", str(only))


def default_text(info: msgspec.structs.FieldInfo, fdoc: FieldDoc | None) -> str:
    if fdoc is not None and fdoc.default_text:
        return fdoc.default_text
    if info.required:
        return "required"
    value = info.default if info.default_factory is msgspec.NODEFAULT else info.default_factory()
    if value is None:
        return "none"
    if isinstance(value, Section):
        return "defaults below"
    shown = to_json(value, fdoc)
    if isinstance(shown, bool):
        return f"`{str(shown).lower()}`"
    if shown == "":
        return '`""`'
    if isinstance(shown, dict | list):
        return "`{}`" if isinstance(shown, dict) else "`[]`"
    return f"`{shown}`"


def table(section: type[Section]) -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for info in msgspec.structs.fields(section):
        if is_internal(info.encode_name):
            continue
        fdoc = field_doc(info.type)
        meaning = fdoc.description if fdoc else ""
        rows.append(
            f"| `{info.encode_name}` | {_cell(type_text(info.type, fdoc))} "
            f"| {_cell(default_text(info, fdoc))} | {_cell(meaning)} |"
        )
    if section is Config:
        rows.append("| `x-...` | anything | | Ignored: a place for YAML anchors. |")
    return "\n".join(rows)


def reference() -> str:
    """The reference part of docs/config.md: one table per section, in the order of :data:`SECTIONS`."""
    parts: list[str] = []
    for heading, section, lead in SECTIONS:
        summary, notes = describe_class(section)
        if heading:
            parts.append(f"### {heading}")
        parts.append(" ".join(part for part in (lead, summary) if part))
        parts.append(table(section))
        if notes:
            parts.append(notes)
        if section is Config:
            parts.append(_TOP_NOTES)
    return "\n\n".join(parts) + "\n"


def page(example: str) -> str:
    head = _HEAD.format(schema_url=SCHEMA_URL, example=example)
    keys = "approval, url, labels, deploy, reviewers, auto_merge, path, branch, freeze, assignees"
    return f"{head}\n{reference()}\n{_TAIL.format(valid_keys=keys)}"


def generated_files(root: Path) -> dict[Path, str]:
    """What the generated files under ``root`` (a checkout) must contain."""
    example = (root / EXAMPLE_FILE).read_text(encoding="utf-8")
    return {root / DOCS_FILE: page(example), root / SCHEMA_FILE: schema_text()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m promoter.config.docs", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write docs/config.md and the schema")
    action.add_argument("--check", action="store_true", help="exit 1 when the committed files differ")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2], help="the checkout")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files(args.root).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(path)
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'wrote' if args.write else 'out of date'}: {path.relative_to(args.root)}")
    if stale and args.check:
        print("run: python -m promoter.config.docs --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
