"""``environments.<name>.deploy:``: where promoter sees whether a change is deployed and healthy."""

from typing import Annotated, Literal

import msgspec

from promoter.config.fieldtypes import Seconds, Text, duration_doc, template_doc, url_doc
from promoter.config.section import Problem, Section, describe

__all__ = ["ArgoCDSource", "CommitStatusSource", "DeploySettings", "FluxSource", "PromoterSource"]


class ArgoCDSource(Section, frozen=True):
    """An Argo CD Application, read through the Argo CD API (the token comes from the environment)."""

    example = "{url: https://argocd.example.com, application: '{{ app }}-{{ env }}'}"

    url: Annotated[Text, url_doc("The Argo CD server.")]
    application: Annotated[Text, template_doc("The Application's name (`app`, `env`).")] = "{{ app }}"
    app_namespace: Annotated[
        Text | None, describe("The Application's namespace, for Applications outside the control plane's.")
    ] = None
    insecure: Annotated[bool, describe("Skip TLS certificate verification.")] = False


class FluxSource(Section, frozen=True):
    """A Flux Kustomization or HelmRelease, read through the Kubernetes API (`KUBECONFIG`)."""

    example = "{kind: Kustomization, name: apps, namespace: flux-system}"

    kind: Annotated[Literal["Kustomization", "HelmRelease"], describe("The Flux object to watch.")] = (
        "Kustomization"
    )
    name: Annotated[Text, template_doc("The object's name (`app`, `env`).")] = "{{ app }}"
    namespace: Annotated[Text, describe("The object's namespace.")] = "flux-system"
    reconcile: Annotated[bool, describe("Ask Flux to reconcile at once instead of at its next interval.")] = (
        False
    )


class CommitStatusSource(Section, frozen=True):
    """Commit statuses (checks) that a deployment tool posts on the env repo's commit."""

    example = "{contexts: [argocd/production]}"

    contexts: Annotated[
        tuple[Text, ...], describe("The status contexts (check names) that must all succeed.", min_length=1)
    ]


class PromoterSource(Section, frozen=True):
    """promoter's bundled reconciler (`promoter reconcile`), read from its status in the cluster."""

    example = "{instance: production}"

    instance: Annotated[
        Text | None, describe("The reconciler's `--instance` name.", default_text="the only one")
    ] = None


# key in promoter.yaml -> attribute
SOURCES = {"argocd": "argocd", "flux": "flux", "commit-status": "commit_status", "promoter": "promoter"}


class DeploySettings(Section, frozen=True):
    """How `wait` and `--wait` learn that a change is deployed. Exactly one source."""

    example = "{argocd: {url: https://argocd.example.com}, timeout: 10m}"
    schema_rules = {"oneOf": [{"required": [key]} for key in ("argocd", "flux", "commit-status", "promoter")]}

    argocd: Annotated[ArgoCDSource | None, describe("Argo CD Application.")] = None
    flux: Annotated[FluxSource | None, describe("Flux Kustomization or HelmRelease.")] = None
    commit_status: Annotated[CommitStatusSource | None, describe("Commit statuses on the env repo.")] = (
        msgspec.field(default=None, name="commit-status")
    )
    promoter: Annotated[PromoterSource | None, describe("The bundled reconciler.")] = None
    poll_seconds: Annotated[Seconds, duration_doc("Time between two looks at the source.")] = msgspec.field(
        default=5, name="poll"
    )
    timeout_seconds: Annotated[Seconds, duration_doc("Give up waiting after this long (exit 7).")] = (
        msgspec.field(default=600, name="timeout")
    )
    settle_seconds: Annotated[
        Seconds, duration_doc("Keep watching this long after healthy before calling it done.", minimum=0)
    ] = msgspec.field(default=0, name="settle")

    def check(self) -> None:
        chosen = [key for key, attr in SOURCES.items() if getattr(self, attr) is not None]
        if len(chosen) != 1:
            found = f"got {', '.join(chosen)}" if chosen else "got none"
            raise Problem(
                "{label} needs exactly one source ({found})",
                found=found,
                hint=f"choose one of {', '.join(SOURCES)}",
            )
