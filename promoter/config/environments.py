"""``environments:``: the environments of the env repo, each a branch (and optionally a directory)."""

import posixpath
from typing import Annotated, ClassVar

import msgspec

from promoter.config import values
from promoter.config.deploy import DeploySettings
from promoter.config.fieldtypes import Text, branch_doc, directory_doc, url_doc
from promoter.config.freeze import FreezeWindow
from promoter.config.section import NamedSections, Section, describe, internal_name
from promoter.errors import ConfigError

__all__ = ["Environment", "Environments"]


class Environment(Section, frozen=True):
    """One environment: a branch of the env repo, or a directory on a branch that several share.

    Two environments may share a branch only with different paths.
    """

    example = "{branch: production, approval: true}"

    name: Annotated[str, describe("The environment's name: its key under `environments`.")] = msgspec.field(
        name=internal_name("name")
    )
    branch: Annotated[Text, branch_doc("The branch holding this environment.")]
    path: Annotated[
        str, directory_doc("The environment's directory on that branch.", default_text='`""` (repo root)')
    ] = ""
    approval: Annotated[bool, describe("Never push: open or update a merge/pull request instead.")] = False
    labels: Annotated[tuple[Text, ...], describe("Labels on approval requests.")] = ()
    reviewers: Annotated[tuple[Text, ...], describe("Reviewers requested on approval requests.")] = ()
    assignees: Annotated[tuple[Text, ...], describe("Assignees of approval requests.")] = ()
    auto_merge: Annotated[bool, describe("Merge the request automatically once approved and green.")] = False
    url: Annotated[Text | None, url_doc("The environment's address (`PROMOTER_ENV_URL`).")] = None
    deploy: Annotated[
        DeploySettings | None, describe("Where `wait` sees the deployment of a change (see below).")
    ] = None
    freeze: Annotated[
        tuple[FreezeWindow, ...], describe("Windows in which promoter changes nothing here (see below).")
    ] = ()

    def file_path(self, file: str) -> str:
        """Repo-relative path of ``file`` in this environment (``path/file``, normalised, never outside)."""
        if not file or posixpath.normpath(file) == ".":
            raise ConfigError(f"unsafe path {file!r}: it does not name a file")
        return values.safe_join(self.path, file)


class Environments(NamedSections[Environment]):
    item = Environment
    item_noun = "environment"
    example = "{staging: {branch: staging}}"
    non_empty: ClassVar[bool] = True
    name_pattern = values.NAME_PATTERN
