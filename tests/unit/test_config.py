"""promoter.yaml -> Config: the full model, and every malformed config is exit 2 at the offending key."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from promoter.config import (
    AbsoluteFreezeWindow,
    App,
    ArgoCDSource,
    CommitStatusSource,
    Config,
    CopyRule,
    DeploySettings,
    Environment,
    FileTarget,
    FluxSource,
    ForgeConfig,
    GitSettings,
    PreviewSettings,
    Promotion,
    RecurringFreezeWindow,
    UpdatePolicy,
    branch_name_problem,
    load_config,
    locate_config,
    parse_config,
    parse_duration,
    resolve_config,
    safe_join,
)
from promoter.errors import ConfigError, ImageReferenceError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "config"


def _expected_full() -> Config:
    production_target = FileTarget(
        "values-prod.yaml", key="spec.source.helm.parameters[name=image.tag].value", doc=1
    )
    berlin = timezone(timedelta(hours=1))
    return Config(
        version=1,
        repo="https://gitlab.example.com/acme/environments.git",
        forge=ForgeConfig("gitlab", "https://gitlab.example.com", "acme/environments"),
        git=GitSettings(
            "Release Bot <release-bot@example.com>", "deploy({{ env }}): {{ app }} {{ tag }}", "ssh", "git"
        ),
        environments={
            "staging": Environment(
                "staging",
                "staging",
                url="https://staging.example.com",
                deploy=DeploySettings(commit_status=CommitStatusSource(("argocd/staging",))),
            ),
            "qa": Environment(
                "qa",
                "main",
                path="envs/qa",
                deploy=DeploySettings(
                    flux=FluxSource("HelmRelease", "{{ app }}-qa", "apps", reconcile=True),
                    poll_seconds=10,
                    timeout_seconds=900,
                    settle_seconds=30,
                ),
            ),
            "production": Environment(
                "production",
                "production",
                approval=True,
                labels=("promotion", "needs-review"),
                reviewers=("ops-lead", "sre"),
                assignees=("release-manager",),
                auto_merge=True,
                url="https://www.example.com",
                deploy=DeploySettings(
                    argocd=ArgoCDSource(
                        "https://argocd.example.com", "{{ app }}-{{ env }}", "argocd-apps", insecure=True
                    )
                ),
                freeze=(
                    AbsoluteFreezeWindow(
                        datetime(2026, 12, 20, tzinfo=berlin),
                        datetime(2027, 1, 4, tzinfo=berlin),
                        "year-end freeze",
                    ),
                    RecurringFreezeWindow(("fri",), "16:00", "23:59", "no Friday deploys", "Europe/Berlin"),
                ),
            ),
        },
        apps={
            "api": App(
                "api",
                "registry.example.com/acme/api",
                files=(FileTarget("values.yaml", key="apps.api.image.tag"), FileTarget("apps/api.yaml")),
                env_files={"production": (production_target,)},
                source_repo="https://gitlab.example.com/acme/api",
                source_ref="v{{ tag }}",
                update=UpdatePolicy(
                    constraint="^1.2",
                    tags=r"^v?\d+\.\d+\.\d+$",
                    ignore=("*-rc*", "1.5.0"),
                    environments=("staging",),
                ),
            ),
            "web": App(
                "web",
                "ghcr.io/acme/web",
                files=(FileTarget("web/kustomization.yaml"),),
                update=UpdatePolicy("digest", tag="latest"),
            ),
        },
        promotion=(
            Promotion("staging", "qa"),
            Promotion(
                "qa",
                "production",
                copy=(CopyRule("version.yaml"), CopyRule("values.yaml", key="global.releaseName")),
                soak_seconds=3600,
                checks=("ci/e2e",),
            ),
        ),
        previews=PreviewSettings(
            branch="previews",
            dir="preview-apps",
            template="preview.yaml.j2",
            ttl_seconds=3 * 86400 + 12 * 3600,
            max_delete=25,
            values={"domain": "preview.example.com", "replicas": "1"},
            namespace="pr-{{ slug }}",
        ),
    )


def test_full_config_loads_into_the_model() -> None:
    config = load_config(FIXTURES / "full.yaml")
    assert config == _expected_full()
    assert config.source == str(FIXTURES / "full.yaml")
    assert list(config.environments) == ["staging", "qa", "production"]  # order as written


def test_full_config_round_trips_through_as_dict() -> None:
    config = load_config(FIXTURES / "full.yaml")
    again = parse_config(json.dumps(config.as_dict()), "again.json")
    assert again == config
    assert again.as_dict() == config.as_dict()


def test_minimal_config_has_the_documented_defaults() -> None:
    config = load_config(FIXTURES / "minimal.yaml")
    assert config.forge == ForgeConfig("none")
    assert config.git == GitSettings()
    assert config.previews == PreviewSettings()
    assert config.previews.ttl_seconds == 7 * 86400
    assert config.promotion == ()
    assert config.repo is None
    assert config.environment("staging") == Environment("staging", "staging")
    assert config.as_dict() == {
        "version": 1,
        "environments": {"staging": {"branch": "staging"}},
        "apps": {"api": {"image": "registry.example.com/acme/api", "files": [{"file": "values.yaml"}]}},
    }


def test_directory_per_environment_fixture() -> None:
    config = load_config(FIXTURES / "directories.yaml")
    qa, prod = config.environment("qa"), config.environment("production")
    assert (qa.branch, prod.branch) == ("main", "main")
    app = config.app("api")
    assert [qa.file_path(t.file) for t in app.files_for("qa")] == ["envs/qa/values.yaml"]
    assert [prod.file_path(t.file) for t in app.files_for("production")] == ["envs/production/values.yaml"]


def test_files_for_uses_the_environment_override() -> None:
    app = load_config(FIXTURES / "full.yaml").app("api")
    assert app.files_for("staging") == app.files
    assert app.files_for("production") == (
        FileTarget("values-prod.yaml", "spec.source.helm.parameters[name=image.tag].value", 1),
    )


def test_unknown_environment_and_app_list_the_known_names_closest_first() -> None:
    config = load_config(FIXTURES / "full.yaml")
    with pytest.raises(ConfigError) as caught:
        config.environment("prod")
    assert caught.value.exit_code == 2
    assert caught.value.hint == "did you mean 'production'? known environments: production, staging, qa"
    with pytest.raises(ConfigError) as caught:
        config.app("wbe")
    assert caught.value.hint is not None and caught.value.hint.startswith(
        "did you mean 'web'? known apps: web"
    )


def test_apps_for_image_compares_repositories() -> None:
    config = load_config(FIXTURES / "full.yaml")
    assert [a.name for a in config.apps_for_image("registry.example.com/acme/api:1.2.3")] == ["api"]
    assert [a.name for a in config.apps_for_image("ghcr.io/acme/web@sha256:" + "a" * 64)] == ["web"]
    assert config.apps_for_image("registry.example.com/acme/other:1") == []
    with pytest.raises(ImageReferenceError):
        config.apps_for_image("not an image")


def test_promotion_rule() -> None:
    config = load_config(FIXTURES / "full.yaml")
    rule = config.promotion_rule("qa", "production")
    assert rule is not None and rule.copy[0] == CopyRule("version.yaml")
    assert config.promotion_rule("staging", "production") is None


def test_with_repo_overrides_the_file() -> None:
    config = load_config(FIXTURES / "minimal.yaml")
    assert config.with_repo("file:///tmp/env.git").repo == "file:///tmp/env.git"
    assert config.with_repo(None) is config


def test_merge_keys_apply_and_explicit_keys_win() -> None:
    text = (
        "version: 1\n"
        "x-base: &base {branch: base, approval: true}\n"
        "environments:\n"
        "  prod:\n"
        "    <<: *base\n"
        "    branch: production\n"
    )
    assert parse_config(text, "c.yaml").environment("prod") == Environment(
        "prod", "production", approval=True
    )


# --- malformed configs: (id, text, where, message fragment) ------------------------------------------------
BASE = """\
version: 1
environments:
  staging: {branch: staging}
  production:
    branch: production
apps:
  api:
    image: registry.example.com/acme/api
    files: [values.yaml]
promotion:
  - {from: staging, to: production}
"""


def _edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


MALFORMED = [
    ("unknown-top-key", BASE + "previewz: {}\n", "12:1", "unknown key 'previewz'"),
    (
        "unknown-env-key",
        _edit("    branch: production\n", "    branch: production\n    aproval: true\n"),
        "6:5",
        "unknown key 'aproval' in 'environments.production'",
    ),
    (
        "unknown-app-key",
        _edit("    files: [values.yaml]\n", "    files: [values.yaml]\n    tag: latest\n"),
        "10:5",
        "unknown key 'tag' in 'apps.api'",
    ),
    (
        "unknown-file-key",
        _edit("files: [values.yaml]", "files: [{file: values.yaml, path: x}]"),
        "9:33",
        "unknown key 'path'",
    ),
    (
        "bool-as-string",
        _edit("    branch: production\n", "    branch: production\n    approval: 'yes'\n"),
        "6:5",
        "'environments.production.approval' must be true or false, got a string",
    ),
    (
        "string-for-list",
        _edit("    branch: production\n", "    branch: production\n    labels: promotion\n"),
        "6:5",
        "must be a list, got a string",
    ),
    (
        "list-item-not-string",
        _edit("    branch: production\n", "    branch: production\n    reviewers: [ops, {a: b}]\n"),
        "6:22",
        "'environments.production.reviewers[1]' must be a string, got a mapping",
    ),
    (
        "environments-as-list",
        BASE.replace(
            "environments:\n  staging: {branch: staging}\n  production:\n    branch: production\n",
            "environments: [staging, production]\n",
        ),
        "2:1",
        "'environments' must be a mapping, got a list",
    ),
    (
        "missing-branch",
        _edit("    branch: production\n", "    approval: true\n"),
        "4:3",
        "'environments.production' is missing required key 'branch'",
    ),
    (
        "missing-image",
        _edit("    image: registry.example.com/acme/api\n", ""),
        "7:3",
        "'apps.api' is missing required key 'image'",
    ),
    ("missing-version", BASE.replace("version: 1\n", ""), "1:1", "missing required key 'version'"),
    ("version-2", BASE.replace("version: 1", "version: 2"), "1:1", "'version' must be 1, got 2"),
    ("version-string", BASE.replace("version: 1", "version: '1'"), "1:1", "'version' must be an integer"),
    ("bad-branch-dots", _edit("branch: staging}", "branch: stag..ing}"), "3:13", "it contains '..'"),
    (
        "bad-branch-space",
        _edit("    branch: production\n", "    branch: prod uction\n"),
        "5:5",
        "is not valid: it contains ' '",
    ),
    (
        "bad-branch-lock",
        _edit("    branch: production\n", "    branch: release/x.lock\n"),
        "5:5",
        "ends with '.lock'",
    ),
    (
        "promotion-unknown-to",
        _edit("to: production}", "to: prod}"),
        "11:21",
        "promotion names unknown environment 'prod'",
    ),
    (
        "promotion-unknown-from",
        _edit("{from: staging,", "{from: stage,"),
        "11:6",
        "promotion names unknown environment 'stage'",
    ),
    (
        "promotion-to-itself",
        _edit("to: production}", "to: staging}"),
        "11:21",
        "promotion from 'staging' to itself",
    ),
    ("promotion-twice", BASE + "  - {from: staging, to: production}\n", "12:5", "listed twice"),
    (
        "duplicate-env",
        _edit("  production:\n", "  staging: {branch: other}\n  production:\n"),
        "4:3",
        "duplicate key 'staging'",
    ),
    (
        "duplicate-field",
        _edit("    branch: production\n", "    branch: production\n    branch: prod\n"),
        "6:5",
        "duplicate key 'branch'",
    ),
    ("ttl-words", BASE + "previews: {ttl: 7 days}\n", "12:12", "'previews.ttl' is not valid"),
    ("ttl-unit", BASE + "previews: {ttl: 7y}\n", "12:12", "is not a duration"),
    ("ttl-zero", BASE + "previews: {ttl: 0}\n", "12:12", "longer than zero"),
    ("image-with-tag", _edit("acme/api\n", "acme/api:1.0\n"), "8:5", "without a tag or digest"),
    (
        "image-syntax",
        _edit("image: registry.example.com/acme/api", "image: registry.example.com/ACME/api"),
        "8:5",
        "'apps.api.image' is not valid",
    ),
    (
        "yaml-syntax",
        _edit("files: [values.yaml]", "files: [values.yaml"),
        "10:10",
        "(the construct started at line 9, column 12)",
    ),
    ("yaml-tab-indent", BASE + "previews:\n\tdir: x\n", "13:1", "is not valid YAML"),
    ("yaml-two-documents", BASE + "---\nversion: 1\n", "12:1", "is not valid YAML"),
    ("file-escapes", _edit("files: [values.yaml]", "files: [../secrets.yaml]"), "9:13", "it contains '..'"),
    ("file-absolute", _edit("files: [values.yaml]", "files: [/etc/passwd]"), "9:13", "it is absolute"),
    (
        "path-escapes",
        _edit("    branch: production\n", "    branch: production\n    path: envs/../../x\n"),
        "6:5",
        "it contains '..'",
    ),
    ("forge-type", BASE + "forge: {type: gitlabb}\n", "12:9", "must be one of gitlab, github, none"),
    ("forge-url", BASE + "forge: {type: gitlab, url: gitlab.example.com}\n", "12:23", "http:// or https://"),
    ("git-author", BASE + "git: {author: promoter}\n", "12:7", "write 'Name <email>'"),
    (
        "app-env-unknown",
        _edit(
            "    files: [values.yaml]\n",
            "    files: [values.yaml]\n    environments:\n      prod: {files: [v.yaml]}\n",
        ),
        "11:7",
        "app 'api' names unknown environment 'prod'",
    ),
    ("app-no-files", _edit("    files: [values.yaml]\n", ""), "7:3", "app 'api' has no files"),
    ("env-name", _edit("  production:\n", "  prod/eu:\n"), "4:3", "'prod/eu' is not a valid name"),
    (
        "shared-directory",
        _edit("    branch: production\n", "    branch: staging\n"),
        "4:3",
        "share branch 'staging'",
    ),
    (
        "doc-negative",
        _edit("files: [values.yaml]", "files: [{file: values.yaml, doc: -1}]"),
        "9:33",
        "must be at least 0",
    ),
    ("max-delete-negative", BASE + "previews:\n  max_delete: -3\n", "13:3", "must be at least 0"),
    (
        "empty-environments",
        BASE.replace(
            "environments:\n  staging: {branch: staging}\n  production:\n    branch: production\n",
            "environments: {}\n",
        ),
        "2:1",
        "must not be empty",
    ),
    (
        "branch-number",
        _edit("branch: staging}", "branch: 2024}"),
        "3:13",
        "must be a branch name, got an integer",
    ),
    (
        "preview-value-name",
        BASE + "previews:\n  values: {my-domain: x}\n",
        "13:12",
        "'my-domain' is not a valid name",
    ),
    (
        "preview-values-nested",
        BASE + "previews:\n  values: {a: [1]}\n",
        "13:12",
        "must be a string, number or boolean",
    ),
    ("merge-cycle", "version: 1\nenvironments: &e {<<: *e}\n", "2:15", "a '<<' merge includes the mapping"),
    ("merge-scalar", BASE + "previews: {<<: 3}\n", "12:12", "'<<' must merge a mapping"),
    ("non-mapping-root", "- version: 1\n", "1:1", "the top level must be a mapping"),
    ("empty-file", "", "1:1", "is empty"),
]


@pytest.mark.parametrize(
    ("text", "where", "fragment"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_config_is_exit_2_at_the_offending_key(text: str, where: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cfg.yaml")
    error = caught.value
    assert error.exit_code == 2
    assert error.where == f"cfg.yaml:{where}", error.message
    assert fragment in error.message


def test_unknown_key_hint_lists_valid_keys_closest_first() -> None:
    text = _edit("    branch: production\n", "    branch: production\n    aproval: true\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cfg.yaml")
    assert caught.value.hint == (
        "did you mean 'approval'? valid keys here: approval, url, labels, deploy, reviewers, auto_merge, "
        "path, branch, freeze, assignees"
    )


def test_duplicate_key_hint_names_the_first_occurrence() -> None:
    text = _edit("    branch: production\n", "    branch: production\n    branch: prod\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cfg.yaml")
    assert caught.value.hint == "first written at cfg.yaml:5:5"


def test_load_config_reports_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert caught.value.exit_code == 2 and caught.value.where == str(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"version: 1\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "promoter.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "minimal.yaml").read_bytes().replace(b"\n", b"\r\n"))
    assert load_config(path) == load_config(FIXTURES / "minimal.yaml")


# --- locating the config ----------------------------------------------------------------------------------
def test_locate_prefers_explicit_then_cwd_then_repo(tmp_path: Path) -> None:
    asked: list[str] = []

    def from_repo(name: str) -> str | None:
        asked.append(name)
        return "version: 1  # from the env repo\n"

    explicit = tmp_path / "custom.yaml"
    explicit.write_text("version: 1  # explicit\n")
    assert locate_config("custom.yaml", tmp_path, from_repo) == ("version: 1  # explicit\n", "custom.yaml")
    assert locate_config(None, tmp_path, from_repo) == (
        "version: 1  # from the env repo\n",
        "env-repo:promoter.yaml",
    )
    assert asked == ["promoter.yaml"]
    (tmp_path / "promoter.yaml").write_text("version: 1  # cwd\n")
    assert locate_config(None, tmp_path, from_repo) == (
        "version: 1  # cwd\n",
        str(tmp_path / "promoter.yaml"),
    )
    assert asked == ["promoter.yaml"]  # the repo is not asked when a local file exists


def test_locate_returns_none_when_nowhere(tmp_path: Path) -> None:
    assert locate_config(None, tmp_path, lambda name: None) is None
    assert locate_config(None, tmp_path, None) is None


def test_locate_explicit_missing_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    (tmp_path / "promoter.yaml").write_text("version: 1\n")
    with pytest.raises(ConfigError) as caught:
        locate_config("missing.yaml", tmp_path, None)
    assert caught.value.exit_code == 2


# --- value rules --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "file", "expected"),
    [
        ("", "values.yaml", "values.yaml"),
        ("envs/qa", "values.yaml", "envs/qa/values.yaml"),
        ("envs/qa/", "./apps/api.yaml", "envs/qa/apps/api.yaml"),
        (".", "a/b.yaml", "a/b.yaml"),
    ],
)
def test_file_path_joins_and_normalises(path: str, file: str, expected: str) -> None:
    assert Environment("qa", "main", path=path).file_path(file) == expected


@pytest.mark.parametrize(
    "file", ["../x.yaml", "a/../../x.yaml", "/etc/passwd", "a\\b.yaml", "a\x00b", "", "."]
)
def test_file_path_refuses_escapes(file: str) -> None:
    with pytest.raises(ConfigError):
        Environment("qa", "main", path="envs/qa").file_path(file)


def test_safe_join_refuses_escaping_prefix() -> None:
    with pytest.raises(ConfigError):
        safe_join("../outside", "x.yaml")
    assert safe_join("apps", "pr-1.yaml") == "apps/pr-1.yaml"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7d", 604800),
        ("12h", 43200),
        ("30m", 1800),
        ("45s", 45),
        ("2w", 1209600),
        ("1d12h", 129600),
        (90, 90),
    ],
)
def test_parse_duration(value: str | int, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["7", "7 d", "d", "-1d", "1.5h", 0, -5, True, ""])
def test_parse_duration_refuses(value: str | int) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("name", ["main", "staging", "release/2024.06", "env-prod_eu", "a/b/c"])
def test_valid_branch_names(name: str) -> None:
    assert branch_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-x",
        "a..b",
        "a b",
        "a:b",
        "a~1",
        "a^",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "/a",
        "a/",
        "a//b",
        ".hidden",
        "a/.b",
        "x.lock",
        "a.",
        "@",
        "a@{b",
        "tab\there",
    ],
)
def test_invalid_branch_names(name: str) -> None:
    assert branch_name_problem(name) is not None


def test_models_are_immutable() -> None:
    config = load_config(FIXTURES / "full.yaml")
    with pytest.raises(AttributeError):
        config.version = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.environments["x"] = Environment("x", "x")  # type: ignore[index]
    assert hash(config.environment("production")) == hash(config.environment("production"))


def test_documented_example_is_the_full_fixture() -> None:
    doc = (Path(__file__).parent.parent.parent / "docs" / "config.md").read_text(encoding="utf-8")
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert parse_config(example, "docs/config.md") == load_config(FIXTURES / "full.yaml")


def test_number_for_a_string_says_to_quote_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("version: 1\nenvironments: {a: {branch: 2024}}\n", "c.yaml")
    assert caught.value.hint == 'quote it: "2024"'


def test_nested_merges_are_linear_not_exponential() -> None:
    lines = ["version: 1", "x-0: &a0 {branch: main}"]
    lines += [f"x-{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}]}}" for i in range(1, 60)]
    lines.append("environments: {prod: *a59}")
    assert parse_config("\n".join(lines), "c.yaml").environment("prod") == Environment("prod", "main")


def test_resolve_config_applies_the_repo_override(tmp_path: Path) -> None:
    (tmp_path / "promoter.yaml").write_text((FIXTURES / "full.yaml").read_text())
    config = resolve_config(None, tmp_path, None, repo="file:///srv/env.git")
    assert config.repo == "file:///srv/env.git"
    assert resolve_config(None, tmp_path, None).repo == "https://gitlab.example.com/acme/environments.git"


def test_resolve_config_without_any_config_is_exit_2(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_config(None, tmp_path, lambda name: None)
    assert caught.value.exit_code == 2 and "promoter init" in (caught.value.hint or "")


def test_invalid_config_from_the_env_repo_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_config(None, tmp_path, lambda name: "version: 1\nenvironments: {a: {brnch: x}}\n")
    assert caught.value.where == "env-repo:promoter.yaml:2:20"
