"""Preview templating: slugs, the yaml filter, the sandbox and the bundled templates."""

from __future__ import annotations

import posixpath
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from promoter.errors import ConfigError, InputError, TemplateError, UnsafeTargetError, UsageError
from promoter.templating import (
    BUNDLED_TEMPLATES,
    REQUIRED_ANNOTATIONS,
    PreviewContext,
    PreviewTemplate,
    check_rendered,
    is_dns1123_label,
    load_template,
    parse_set_values,
    preview_annotations,
    preview_path,
    render_preview,
    slugify,
    yaml_scalar,
)

NASTY_PARTS = [
    "feature",
    "Feature",
    "/",
    ".",
    "..",
    "../",
    "-",
    "_",
    '"',
    "'",
    "\n",
    "\r\n",
    ": ",
    "#",
    "{{",
    "}}",
    "{% if %}",
    "é",
    "ß",
    "😀",
    "日本",
    "\u2028",
    "\x00",
    "\t",
    " ",
    "---",
    "&a",
    "*a",
    "!!python/object",
    "1.10",
    "0x1F",
    "a" * 60,
]
# st.text() never yields lone surrogates, which no YAML or UTF-8 text can hold anyway.
branch_names = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(NASTY_PARTS), max_size=12).map("".join),
    st.text(alphabet=st.sampled_from(list("aZ09/.-_\"':# {}\n\té😀")), min_size=250, max_size=300),
    st.from_regex(r"[a-z][a-z0-9-]{0,70}", fullmatch=True),
)
free_text = st.one_of(st.text(max_size=200), st.lists(st.sampled_from(NASTY_PARTS), max_size=8).map("".join))

NOW = datetime(2024, 6, 27, 12, 0, 0, tzinfo=timezone.utc)
ARGO_VALUES = {"repo_url": "https://git.example.com/acme/charts.git", "path": "charts/api"}
_yaml = YAML(typ="safe")


def make_context(branch: str = "feature/login", **overrides: object) -> PreviewContext:
    values: dict = {
        "id": 42,
        "branch": branch,
        "tag": "1.10",
        "image": "registry.example.com/acme/api",
        "project": "acme/api",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "author": "dev",
        "title": "Add login",
        "ttl": timedelta(days=7),
        "now": NOW,
        "extra": dict(ARGO_VALUES),
    }
    values.update(overrides)
    return PreviewContext.create(**values)


# --- slugs ------------------------------------------------------------------------------------------
@given(branch_names)
@settings(max_examples=400)
def test_slug_is_always_a_dns1123_label(name: str) -> None:
    slug = slugify(name)
    assert is_dns1123_label(slug), slug
    assert len(slug) <= 63
    assert slug == slugify(name)  # stable


@given(branch_names, st.integers(min_value=10, max_value=80))
def test_slug_respects_max_length(name: str, max_length: int) -> None:
    slug = slugify(name, max_length=max_length)
    assert len(slug) <= max_length
    assert is_dns1123_label(slug, max_length=max_length)


@given(st.lists(branch_names, unique=True, min_size=2, max_size=40))
def test_distinct_names_give_distinct_slugs(names: list[str]) -> None:
    assert len({slugify(name) for name in names}) == len(names)


def _large_sample(count: int) -> list[str]:
    """Names built to stress collisions: shared long prefixes, separator and case variants, unicode."""
    rng = random.Random(20240627)
    prefix = "feature/" + "x" * 280
    words = ["feature", "fix", "login", "api", "v1.2", "Ünïcode", "日本", "a", "b"]
    seps = ["/", "-", ".", "_", " ", ": ", "--", "\n", ""]
    names: set[str] = set()
    while len(names) < count:
        kind = rng.randrange(4)
        if kind == 0:
            names.add(prefix + str(rng.randrange(10**9)))
        elif kind == 1:
            parts = rng.choices(words, k=rng.randint(1, 4))
            names.add("".join(part + rng.choice(seps) for part in parts).rstrip())
        elif kind == 2:
            names.add(
                "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(160, 0x2FFF)])) for _ in range(12))
            )
        else:
            names.add(f"mr-{rng.randrange(10**6)}{rng.choice(seps)}{rng.choice(words)}")
    return sorted(names)


def test_distinct_slugs_over_a_large_sample() -> None:
    names = _large_sample(20_000)
    slugs = {slugify(name) for name in names}
    assert len(slugs) == len(names) == 20_000
    assert all(is_dns1123_label(slug) for slug in slugs)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fix-login", "fix-login"),
        ("main", "main"),
        ("feature/foo", "feature-foo-"),
        ("Feature-Foo", "feature-foo-"),
        ("123-fix", "x-123-fix-"),
        ("", "x-"),
        ("../../etc/passwd", "etc-passwd-"),
        ("café", "cafe-"),
    ],
)
def test_slug_examples(name: str, expected: str) -> None:
    slug = slugify(name)
    if expected.endswith("-"):
        assert slug.startswith(expected)
        assert len(slug) == len(expected) + 8
    else:
        assert slug == expected


def test_slug_hash_tail_lookalike_cannot_collide() -> None:
    hashed = slugify("feature/foo")
    assert hashed.startswith("feature-foo-")
    assert slugify(hashed) != hashed  # a branch literally named like a hashed slug gets its own hash
    assert slugify("feature-foo") != hashed


def test_slug_length_limit_is_checked() -> None:
    assert len(slugify("a" * 300, max_length=20)) == 20
    with pytest.raises(UsageError):
        slugify("x", max_length=5)


# --- the yaml filter --------------------------------------------------------------------------------
@given(free_text)
@settings(max_examples=400)
def test_yaml_filter_round_trips_any_text(value: str) -> None:
    rendered = yaml_scalar(value)
    assert "\n" not in rendered and "\r" not in rendered
    assert _yaml.load(f"key: {rendered}\nother: 1\n") == {"key": value, "other": 1}


@pytest.mark.parametrize(("value", "text"), [(42, "42"), (True, "true"), (False, "false"), (None, "")])
def test_yaml_filter_non_strings_become_strings(value: object, text: str) -> None:
    assert _yaml.load(f"k: {yaml_scalar(value)}") == {"k": text}


# --- bundled templates ------------------------------------------------------------------------------
@given(branch=branch_names, title=free_text, author=free_text, project=free_text)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_bundled_templates_keep_their_structure(branch: str, title: str, author: str, project: str) -> None:
    ctx = make_context(branch, title=title, author=author, project=project)
    for name, kinds in (
        ("argocd-application", ["Application"]),
        ("manifests", ["Namespace", "Deployment", "Service"]),
    ):
        documents = list(_yaml.load_all(render_preview(name, ctx)))
        assert [doc["kind"] for doc in documents] == kinds
        first = documents[0]
        assert first["metadata"]["name"] == (ctx.namespace if name == "manifests" else ctx.slug)
        annotations = first["metadata"]["annotations"]
        assert annotations["promoter.dev/preview-id"] == "42"
        assert annotations["promoter.dev/project"] == project
        assert annotations["promoter.dev/source-branch"] == branch
        assert annotations["promoter.dev/expires-at"] == "2024-07-04T12:00:00Z"
        assert annotations["promoter.dev/title"] == title
        assert annotations["promoter.dev/author"] == author
        for doc in documents:
            assert doc["metadata"]["name"] == (ctx.namespace if doc["kind"] == "Namespace" else ctx.slug)
            assert doc["metadata"].get("namespace", ctx.namespace) in (ctx.namespace, "argocd")
        assert ctx.namespace.startswith("preview-") and len(ctx.namespace) <= 63
        assert ctx.namespace == f"preview-{ctx.slug}" or len(ctx.slug) > 55


@given(branch_names)
def test_preview_file_never_leaves_its_directory(branch: str) -> None:
    path = preview_path("apps", slugify(branch))
    assert posixpath.dirname(path) == "apps"
    assert path == posixpath.normpath(path)
    assert path.endswith(".yaml") and ".." not in path


@pytest.mark.parametrize("slug", ["../x", "a/b", "", "..", "/etc", "A", "x.yaml"])
def test_preview_path_refuses_unsafe_slugs(slug: str) -> None:
    with pytest.raises(UnsafeTargetError):
        preview_path("apps", slug)


def test_preview_path_normalises_directory() -> None:
    assert preview_path("./apps/", "pr-1") == "apps/pr-1.yaml"
    assert preview_path("envs/previews", "pr-1") == "envs/previews/pr-1.yaml"


def test_argocd_application_shape() -> None:
    (app,) = _yaml.load_all(render_preview("argocd-application", make_context()))
    assert app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    sync = app["spec"]["syncPolicy"]
    assert sync["syncOptions"] == ["CreateNamespace=true"]
    assert sync["managedNamespaceMetadata"]["labels"]["promoter.dev/prune"] == "namespace"
    params = {p["name"]: p["value"] for p in app["spec"]["source"]["helm"]["parameters"]}
    assert params == {"image.repository": "registry.example.com/acme/api", "image.tag": "1.10"}
    assert app["spec"]["source"]["path"] == "charts/api"
    assert app["spec"]["destination"]["namespace"] == "preview-" + app["metadata"]["name"]


def test_argocd_application_with_chart_and_defaults_overridden() -> None:
    ctx = make_context(
        extra={"repo_url": "https://charts.example.com", "chart": "api", "argocd_namespace": "gitops"}
    )
    (app,) = _yaml.load_all(render_preview("argocd-application", ctx))
    assert app["spec"]["source"]["chart"] == "api"
    assert "path" not in app["spec"]["source"]
    assert app["metadata"]["namespace"] == "gitops"


def test_argocd_application_requires_repo_url_with_line() -> None:
    with pytest.raises(TemplateError) as info:
        render_preview("argocd-application", make_context(extra={}))
    assert "repo_url" in info.value.message
    assert info.value.where and info.value.where.startswith("bundled:argocd-application:")
    assert info.value.exit_code == 3


def test_manifests_shape_and_digest_pinning() -> None:
    ctx = make_context(tag="sha256:" + "a" * 64, extra={"port": "9000"})
    namespace, deployment, service = _yaml.load_all(render_preview("manifests", ctx))
    assert namespace["metadata"]["labels"]["promoter.dev/prune"] == "namespace"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/acme/api@sha256:" + "a" * 64
    assert container["ports"][0]["containerPort"] == 9000
    assert deployment["metadata"]["namespace"] == service["metadata"]["namespace"] == ctx.namespace
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_every_bundled_template_is_packaged() -> None:
    for name in BUNDLED_TEMPLATES:
        template = load_template(name)
        assert template.origin == f"bundled:{name}"
        assert "| yaml" in template.text


# --- user templates and errors ----------------------------------------------------------------------
GOOD_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ slug | yaml }}
  annotations:
    promoter.dev/preview-id: {{ id | yaml }}
    promoter.dev/project: {{ project | yaml }}
    promoter.dev/source-branch: {{ branch | yaml }}
    promoter.dev/expires-at: {{ expires_at | yaml }}
data:
  team: {{ team | yaml }}
"""


def test_user_template_relative_to_config_directory(tmp_path: Path) -> None:
    (tmp_path / "previews").mkdir()
    (tmp_path / "previews" / "cm.yaml.j2").write_text(GOOD_TEMPLATE)
    ctx = make_context(extra={"team": "a: b"})
    text = render_preview("previews/cm.yaml.j2", ctx, base_dir=tmp_path)
    assert _yaml.load(text)["data"] == {"team": "a: b"}
    assert preview_annotations(text)["promoter.dev/source-branch"] == "feature/login"


def test_missing_user_template_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        render_preview("nope.yaml.j2", make_context(), base_dir=tmp_path)


@pytest.mark.parametrize(
    ("template", "line", "words"),
    [
        ("a: 1\nb: 2\nc: {{ missing }}\n", 3, "undefined"),
        ("a: 1\n{% if %}\n", 2, "syntax"),
        ("a: 1\nb: {{ branch.__class__ }}\n", 2, "sandbox"),
        ("a: 1\n\nb: {{ cycler.__init__.__globals__.os }}\n", 3, "sandbox"),
        ("a: {{ 1 / 0 }}\nb: 1\n", 1, "ZeroDivisionError"),
    ],
)
def test_template_errors_name_the_line(template: str, line: int, words: str) -> None:
    with pytest.raises(TemplateError) as info:
        render_preview(template, make_context())
    assert info.value.where == f"<template>:{line}"
    assert words in info.value.message


def test_sandbox_refuses_mutation() -> None:
    with pytest.raises(TemplateError, match="sandbox"):
        render_preview("{% set l = [] %}{{ l.append(1) }}\na: 1\n", make_context())


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("a: b\n  c: d\n- e\n", "not valid YAML"),
        ("- a\n- b\n", "not a mapping"),
        ("kind: X\n", "apiVersion"),
        ("", "empty"),
        ("apiVersion: v1\nkind: X\nmetadata: {name: n, annotations: [promoter.dev/project]}\n", "lacks"),
    ],
)
def test_rendered_output_is_checked(template: str, words: str) -> None:
    with pytest.raises(TemplateError, match=words):
        render_preview(PreviewTemplate(template, "t.j2"), make_context())


def test_unquoted_hostile_branch_is_caught() -> None:
    careless = GOOD_TEMPLATE.replace("{{ branch | yaml }}", "{{ branch }}").replace("{{ team | yaml }}", "x")
    ctx = make_context("x\n    promoter.dev/preview-id: '999'")
    with pytest.raises(TemplateError):
        render_preview(careless, ctx)
    ctx = make_context("main #ignored")
    with pytest.raises(TemplateError, match="source-branch"):
        render_preview(careless, ctx)


def test_check_rendered_skips_empty_documents() -> None:
    text = render_preview("manifests", make_context()) + "---\n"
    assert len(check_rendered(text)) == 3
    assert set(REQUIRED_ANNOTATIONS) <= set(preview_annotations(text))


# --- context and --set ------------------------------------------------------------------------------
def test_context_values() -> None:
    ctx = make_context(ttl=None)
    assert ctx.created_at == "2024-06-27T12:00:00Z"
    assert ctx.expires_at == ""
    assert ctx.slug == slugify("feature/login")
    assert ctx.namespace == f"preview-{ctx.slug}"
    assert ctx.variables()["repo_url"] == ARGO_VALUES["repo_url"]


def test_context_refuses_bad_values() -> None:
    with pytest.raises(UsageError):
        make_context(extra={"branch": "x"})
    with pytest.raises(UsageError):
        make_context(extra={"not-an-identifier": "x"})
    with pytest.raises(UsageError):
        make_context(namespace="Bad_Namespace")
    with pytest.raises(InputError):
        make_context("bad\udcff")


def test_parse_set_values() -> None:
    assert parse_set_values(["repo_url=https://x/y?a=b", "empty="]) == {
        "repo_url": "https://x/y?a=b",
        "empty": "",
    }
    for bad in ["novalue", "1x=2", "a-b=1", "tag=1"]:
        with pytest.raises(UsageError):
            parse_set_values([bad])


def test_importing_templating_does_not_import_jinja2() -> None:
    code = "import sys, promoter.templating; print('jinja2' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "kind: A\nmetadata:\n  name: x\n  annotations:\n    a: b\n",
            'kind: A\nmetadata:\n  name: x\n  annotations:\n    promoter.dev/tag: "1.0"\n    a: b\n',
        ),
        (
            "kind: A\nmetadata:\n    name: x\n",
            'kind: A\nmetadata:\n    annotations:\n      promoter.dev/tag: "1.0"\n    name: x\n',
        ),
        (
            "kind: A\nmetadata: {name: x}\n",
            'kind: A\nmetadata: {annotations: {promoter.dev/tag: "1.0"}, name: x}\n',
        ),
        (
            "kind: A\nmetadata:\n  name: x\n  annotations: {}\n",
            'kind: A\nmetadata:\n  name: x\n  annotations: {promoter.dev/tag: "1.0"}\n',
        ),
        (
            "kind: A\nmetadata:\n  name: x\n  annotations:\n",
            'kind: A\nmetadata:\n  name: x\n  annotations: {promoter.dev/tag: "1.0"}\n',
        ),
        (
            "kind: A\r\nmetadata:\r\n  name: x\r\n---\r\nkind: B\r\n",
            'kind: A\r\nmetadata:\r\n  annotations:\r\n    promoter.dev/tag: "1.0"\r\n  name: x\r\n---\r\nkind: B\r\n',
        ),
        ("kind: A\nmetadata:\n  annotations: {promoter.dev/tag: x}\n", None),  # present: untouched
        ("kind: A\nmetadata: [x]\n", None),  # nothing to add to: check_rendered explains
        ("a: [unclosed\n", None),
    ],
)
def test_missing_annotations_are_added_as_lines(text: str, expected: str | None) -> None:
    from promoter.templating import add_missing_annotations

    assert add_missing_annotations(text, {"promoter.dev/tag": "1.0"}) == (expected or text)


# --- preview namespaces -------------------------------------------------------------------------------
def test_namespace_templates_must_name_the_slug_and_add_text() -> None:
    from promoter.templating import namespace_template_problem

    assert namespace_template_problem("preview-{{ slug }}") is None
    assert namespace_template_problem("{{ slug }}-pr") is None
    assert namespace_template_problem("pr-{{ id }}") is None
    assert "prefix or suffix" in (namespace_template_problem("{{ slug }}") or "")
    assert "prefix or suffix" in (namespace_template_problem("{{slug}}{# no text #}") or "")
    assert "{{ slug }}" in (namespace_template_problem("previews") or "")


def test_rendered_namespaces_stay_labels_and_never_equal_the_branch() -> None:
    from promoter.templating import preview_namespace_problem, render_namespace

    long_slug = slugify("a" * 300)
    namespace = render_namespace("preview-{{ slug }}", slug=long_slug, id=1)
    assert namespace.startswith("preview-a") and len(namespace) <= 63 and is_dns1123_label(namespace)
    assert render_namespace("preview-{{ slug }}", slug=long_slug, id=1) == namespace  # stable
    assert render_namespace("pr-{{ id }}", slug="x-1234567890", id=7) == "pr-7"
    assert preview_namespace_problem("production", "production") == (
        "preview namespace 'production' is the branch name itself"
    )
    for name in ("default", "kube-system", "kube-anything", "openshift-x", "argocd"):
        assert "well-known" in (preview_namespace_problem(name, "main") or "")
    assert preview_namespace_problem("preview-production", "production") is None
    with pytest.raises(UnsafeTargetError):
        make_context("kube-system", namespace_template="{{ slug }}-x")
