"""``previews:``: per-merge-request preview environments (``promoter preview up|down|list|gc``)."""

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import msgspec

from promoter.config.deploy import DeploySettings
from promoter.config.fieldtypes import Seconds, Text, branch_doc, directory_doc, duration_doc, template_doc
from promoter.config.section import Mismatch, NamedMap, Section, describe
from promoter.config.values import IDENTIFIER_PATTERN, identifier_problem

__all__ = ["PreviewSettings", "TemplateValues"]


class TemplateValues(NamedMap[str]):
    """Extra template variables: names -> scalars, kept as the text written (``1.10`` stays ``1.10``)."""

    key_noun = "identifier"
    item_noun = "scalar"
    example = "{domain: preview.example.com}"
    name_pattern = IDENTIFIER_PATTERN

    @classmethod
    def name_problem(cls, name: str) -> str | None:
        return identifier_problem(name)

    @classmethod
    def item_expected(cls) -> str:
        return "a string, number or boolean"

    @classmethod
    def decode_item(cls, name: str, raw: Any, mapping: Mapping[str, Any]) -> str:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, bool | int | float):
            written: Mapping[str, str] = getattr(mapping, "written", {})
            return written.get(name) or (str(raw).lower() if isinstance(raw, bool) else str(raw))
        raise Mismatch(cls.item_expected(), at=(name,))

    @classmethod
    def coerce(cls, value: Any) -> Any:
        return value if isinstance(value, cls) else cls({k: str(v) for k, v in value.items()})

    @classmethod
    def json_schema(cls, schema_of: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        return {
            "type": "object",
            "propertyNames": {"pattern": IDENTIFIER_PATTERN},
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        }


def _namespace_problem(text: str) -> str | None:
    from promoter.templating import namespace_template_problem

    return namespace_template_problem(text)


class PreviewSettings(Section, frozen=True):
    """Preview environments: one file per merge request on a branch of their own, removed when it closes."""

    example = "{branch: dynamic-envs, dir: apps, template: argocd-application, ttl: 7d}"

    branch: Annotated[Text, branch_doc("The branch preview files are committed to.")] = "dynamic-envs"
    dir: Annotated[Text, directory_doc("One file per preview: `<dir>/<slug>.yaml`.", below_root=True)] = (
        "apps"
    )
    template: Annotated[
        Text,
        describe(
            "A template file relative to `promoter.yaml`, or a bundled template (`argocd-application`, "
            "`manifests`)."
        ),
    ] = "argocd-application"
    namespace: Annotated[
        Text,
        template_doc(
            "The preview's Kubernetes namespace (`slug`, `id`, `values`). It must use `slug` or `id` and add "
            "text of its own; a rendered name equal to the branch or to a well-known namespace (`default`, "
            "`kube-*`, `argocd`, `flux-system`, ...) is refused (exit 3), so a branch named `production` "
            "never lands in the namespace `production`.",
            check=_namespace_problem,
            schema={
                "pattern": r"\{\{[^}]*\b(slug|id)\b[^}]*\}\}",
                "not": {"pattern": r"^(\s*(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}))*\s*$"},
            },
        ),
    ] = "preview-{{ slug }}"
    ttl_seconds: Annotated[Seconds, duration_doc("Previews older than this are removed by `preview gc`.")] = (
        msgspec.field(default=7 * 86400, name="ttl")
    )
    max_delete: Annotated[int, describe("`preview gc` refuses to delete more at once.", ge=0)] = 10
    values: Annotated[TemplateValues, describe("Extra template variables, kept as written.")] = (
        TemplateValues()
    )
    deploy: Annotated[
        DeploySettings | None,
        describe(
            "Where `preview up --wait` sees the preview deployed, like `environments.<name>.deploy`; its "
            "templates know `slug`, `id` and `namespace`, and `app` is the slug."
        ),
    ] = None
