"""``forge:``: where approval merge requests are opened (GitLab, GitHub or none)."""

from typing import Annotated, Literal

from promoter.config.fieldtypes import Positive, Text, url_doc
from promoter.config.section import Problem, Section, describe

__all__ = ["FORGE_TYPES", "ForgeConfig"]

FORGE_TYPES = ("gitlab", "github", "none")


class ForgeConfig(Section, frozen=True):
    """Where approval merge requests are opened, and the API promoter talks to."""

    example = "{type: gitlab, url: https://gitlab.example.com, project: acme/environments}"
    schema_rules = {
        "if": {"anyOf": [{"required": ["app_id"]}, {"required": ["installation_id"]}]},
        "then": {"required": ["type"], "properties": {"type": {"const": "github"}}},
    }

    type: Annotated[
        Literal["gitlab", "github", "none"],
        describe("`none` refuses approval environments (exit 4): plain git, no merge requests."),
    ] = "none"
    url: Annotated[
        Text | None,
        url_doc(
            "Self-managed GitLab or GitHub Enterprise server (for GitHub Enterprise the API is at "
            "`<url>/api/v3`).",
            default_text="from the CI context",
        ),
    ] = None
    project: Annotated[
        Text | None,
        describe("`group/project` or `owner/repo` of the env repo.", default_text="from the CI context"),
    ] = None
    app_id: Annotated[
        Positive | None,
        describe(
            "GitHub App ID: authenticate as the app, with installation tokens promoter mints from its "
            "private key in `PROMOTER_GITHUB_APP_KEY` (text or base64), for the API and for git over HTTPS.",
            default_text="`PROMOTER_GITHUB_APP_ID`, else none",
        ),
    ] = None
    installation_id: Annotated[
        Positive | None,
        describe(
            "The GitHub App's installation on the env repo's owner.",
            default_text="`PROMOTER_GITHUB_APP_INSTALLATION_ID`, else looked up",
        ),
    ] = None

    def check(self) -> None:
        for key in ("app_id", "installation_id"):
            if getattr(self, key) is not None and self.type != "github":
                raise Problem(
                    "{label} needs type: github (GitHub App authentication)",
                    at=(key,),
                    hint=f"remove {key} or set type: github",
                )
