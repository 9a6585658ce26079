"""``git:``: how promoter's commits are written."""

from typing import Annotated, Literal

from promoter.config import values
from promoter.config.fieldtypes import Text, template_doc
from promoter.config.section import Section, describe

__all__ = ["GitSettings"]


class GitSettings(Section, frozen=True):
    """Author, message and signature of promoter's commits."""

    example = '{author: "promoter <promoter@example.com>", message: "{{ app }}: {{ env }} -> {{ tag }}"}'

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
        describe("Sign commits with an SSH or OpenPGP key (the key comes from the environment)."),
    ] = "none"
    commit_via: Annotated[
        Literal["git", "api"],
        describe("`api` creates commits through the forge's API (signed by the forge); needs a forge."),
    ] = "git"
