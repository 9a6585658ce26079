"""``git:``: how promoter's commits are written."""

from typing import Annotated, Literal

from promoter.config import values
from promoter.config.fieldtypes import Text, template_doc
from promoter.config.section import Problem, Section, describe

__all__ = ["GitSettings"]


class GitSettings(Section, frozen=True):
    """Author, message and signature of promoter's commits."""

    example = '{author: "promoter <promoter@example.com>", message: "{{ app }}: {{ env }} -> {{ tag }}"}'
    schema_rules = {
        "not": {
            "required": ["sign", "commit_via"],
            "properties": {"sign": {"enum": ["ssh", "openpgp"]}, "commit_via": {"const": "api"}},
        }
    }

    author: Annotated[
        Text,
        describe(
            "Author and committer of promoter's commits.",
            check=values.author_problem,
            type_text="`Name <email>`",
            schema={"pattern": values.AUTHOR_PATTERN},
        ),
    ] = "promoter <promoter@localhost>"
    message: Annotated[
        Text, template_doc("First line of the commit message (`app`, `env`, `tag`); trailers are added.")
    ] = "{{ app }}: {{ env }} -> {{ tag }}"
    sign: Annotated[
        Literal["none", "ssh", "openpgp"],
        describe(
            "Sign every commit with an SSH or OpenPGP private key from `PROMOTER_SIGNING_KEY` (its text or "
            "base64; `PROMOTER_SIGNING_PASSPHRASE` when it has one). The author's email should be the one "
            "the key is registered with on the forge."
        ),
    ] = "none"
    commit_via: Annotated[
        Literal["git", "api"],
        describe(
            "`api`: the forge creates each commit (GitHub `createCommitOnBranch`, GitLab Commits API) and "
            "signs it, so it shows as verified without a key of promoter's own; the forge names the author. "
            "Needs a forge."
        ),
    ] = "git"

    def check(self) -> None:
        if self.sign != "none" and self.commit_via == "api":
            raise Problem(
                "{label} cannot be combined with commit_via: api: the forge signs the commits it creates",
                at=("sign",),
                hint="drop sign (the forge signs API commits) or use commit_via: git",
            )
