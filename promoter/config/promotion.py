"""``promotion:``: the paths along which ``promoter promote`` copies versions between environments."""

from typing import TYPE_CHECKING, Annotated

import msgspec

from promoter.config.apps import file_targets
from promoter.config.fieldtypes import Seconds, Text, duration_doc, file_doc, path_or
from promoter.config.section import Problem, Section, describe

__all__ = ["CopyRule", "Promotion"]


class CopyRule(Section, frozen=True):
    """A file (or one key of it) copied verbatim from source to target on promotion: a relative path, or a
    mapping."""

    example = "{file: version.yaml}"

    file: Annotated[Text, file_doc("Relative to the environments' `path`.")]
    key: Annotated[
        Text | None, describe("Copy only this key path.", type_text="key path", default_text="the whole file")
    ] = None


if TYPE_CHECKING:
    CopyRuleInput = CopyRule
else:
    CopyRuleInput = path_or(CopyRule)


class Promotion(Section, frozen=True):
    """One promotion path: `promoter promote FROM TO` copies what runs in FROM to TO."""

    example = "{from: staging, to: production}"

    source: Annotated[Text, describe("The environment versions come from.", type_text="environment name")] = (
        msgspec.field(name="from")
    )
    target: Annotated[
        Text, describe("The environment they go to (a different one).", type_text="environment name")
    ] = msgspec.field(name="to")
    copy: Annotated[
        tuple[CopyRuleInput, ...],
        describe(
            "Files or keys copied verbatim on promotion: a relative path, or `{file, key}`.",
            convert=file_targets(CopyRule),
            type_text="list of copy rules",
        ),
    ] = ()
    soak_seconds: Annotated[
        Seconds,
        duration_doc(
            "How long a version must have run in FROM before it may go to TO: from the commit that set it "
            "there, or from when it was reported healthy when FROM has `deploy: {commit-status: ...}`. "
            "`promote` skips (and lists) the apps that have not soaked yet.",
            minimum=0,
        ),
    ] = msgspec.field(default=0, name="soak")
    checks: Annotated[
        tuple[Text, ...],
        describe(
            "Commit statuses (on GitHub also check runs) that must have succeeded on FROM's branch head "
            "before anything is promoted; needs a forge."
        ),
    ] = ()

    def check(self) -> None:
        if self.source == self.target:
            raise Problem("promotion from {source!r} to itself", at=("to",), source=self.source)
