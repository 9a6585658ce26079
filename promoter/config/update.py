"""``apps.<name>.update:``: how ``promoter update`` picks an app's next version from its registry."""

import re
from typing import Annotated, Literal

from promoter.config.fieldtypes import Text
from promoter.config.section import Problem, Section, describe

__all__ = ["STRATEGIES", "UpdatePolicy"]

STRATEGIES = ("semver", "digest", "newest-build", "alphabetical", "numerical")


def _range_problem(text: str) -> str | None:
    import semantic_version

    try:
        semantic_version.NpmSpec(text)
    except ValueError:
        return "not an npm-style version range (e.g. ^1.2, ~1.2.3, >=1.2 <2 || 3.x, *)"
    return None


def _regex_problem(text: str) -> str | None:
    try:
        re.compile(text)
    except re.error as exc:
        return f"not a regular expression: {exc}"
    return None


class UpdatePolicy(Section, frozen=True):
    """Which tags `update` may move an app to, and where."""

    example = "{strategy: semver, constraint: '^1.2'}"
    schema_rules = {
        "allOf": [
            {
                "if": {"required": ["strategy"], "properties": {"strategy": {"const": "digest"}}},
                "then": {"required": ["tag"]},
                "else": {"not": {"required": ["tag"]}},
            },
            {
                "if": {
                    "required": ["strategy"],
                    "properties": {"strategy": {"enum": ["alphabetical", "numerical"]}},
                },
                "then": {"required": ["tags"], "properties": {"tags": {"pattern": r"\(\?P<version>"}}},
            },
        ]
    }

    strategy: Annotated[
        Literal["semver", "digest", "newest-build", "alphabetical", "numerical"],
        describe(
            "`semver`: the highest version in `constraint` (`1.10` > `1.9`; build metadata after `_`, "
            "as `+` is not allowed in a tag); `digest`: pin the digest `tag` points at now, written where "
            "the file keeps digests (Helm `digest:`, `tag@sha256:...`, Kustomize `digest:`); "
            "`newest-build`: the tag whose image was built last (its config's `created`); "
            "`alphabetical`/`numerical`: the highest `version` group of `tags`, as text or as a number. "
            "Never moves an app back to an older version than it runs."
        ),
    ] = "semver"
    constraint: Annotated[
        Text,
        describe(
            "npm-style version range for `semver`, e.g. `^1.2`, `~1.2.3`, `>=1.2 <2 || 3.x`; a pre-release "
            "is chosen only when the range names a pre-release of the same version (`>=2.0.0-rc.0`).",
            check=_range_problem,
            type_text="version range",
        ),
    ] = "*"
    tag: Annotated[Text | None, describe("The moving tag whose digest `digest` pins, e.g. `latest`.")] = None
    tags: Annotated[
        Text | None,
        describe(
            "Regular expression the tags must match (searched: anchor it with `^...$`); a named group "
            "`version` gives the part compared (required for `alphabetical` and `numerical`).",
            check=_regex_problem,
            type_text="regular expression",
        ),
    ] = None
    ignore: Annotated[
        tuple[Text, ...], describe("Tags or glob patterns never chosen, e.g. `latest`, `*-rc*`.")
    ] = ()
    environments: Annotated[
        tuple[Text, ...] | None,
        describe(
            "Environments `update` may change this app in.",
            default_text="every environment without approval",
            type_text="list of environment names",
        ),
    ] = None

    def check(self) -> None:
        if self.strategy != "semver" and self.constraint != "*":
            raise Problem("{label} applies to strategy semver only", at=("constraint",))
        if self.strategy != "digest" and self.tag is not None:
            raise Problem("{label} applies to strategy digest only", at=("tag",))
        if self.strategy == "digest" and self.tag is None:
            raise Problem("{label} needs tag: the moving tag to pin", at=(), hint="for example: tag: latest")
        ordered = self.strategy in ("alphabetical", "numerical")
        if ordered and (self.tags is None or "version" not in re.compile(self.tags).groupindex):
            raise Problem(
                "{label} needs tags: a regular expression with a (?P<version>...) group",
                at=("tags",) if self.tags is not None else (),
                label_at=(),
                hint=r"for example: tags: '^build-(?P<version>\d+)$'",
            )
