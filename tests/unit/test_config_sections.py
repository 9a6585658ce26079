"""The sections added for deployment feedback, freezes, updates, gates, signing and GitHub Apps: defaults,
rules within a section and rules across sections."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from promoter.config import (
    AbsoluteFreezeWindow,
    DeploySettings,
    FluxSource,
    ForgeConfig,
    GitSettings,
    PreviewSettings,
    PromoterSource,
    Promotion,
    RecurringFreezeWindow,
    parse_config,
)
from promoter.errors import ConfigError

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
"""


def _with(extra: str, *, env: str = "", app: str = "") -> str:
    text = BASE
    if env:
        text = text.replace("    branch: production\n", "    branch: production\n" + env)
    if app:
        text = text.replace("    files: [values.yaml]\n", "    files: [values.yaml]\n" + app)
    return text + extra


def test_defaults_of_the_new_keys() -> None:
    config = parse_config(BASE, "c.yaml")
    assert (
        config.forge == ForgeConfig() and config.forge.app_id is None and config.forge.installation_id is None
    )
    assert (config.git.sign, config.git.commit_via) == ("none", "git")
    production = config.environment("production")
    assert production.deploy is None and production.freeze == ()
    assert config.app("api").update is None and config.app("api").source_ref is None
    assert config.previews.namespace == "preview-{{ slug }}"
    rule = parse_config(BASE + "promotion: [{from: staging, to: production}]\n", "c.yaml").promotion[0]
    assert rule == Promotion("staging", "production") and (rule.soak_seconds, rule.checks) == (0, ())


def test_deploy_defaults_and_durations() -> None:
    config = parse_config(_with("", env="    deploy: {flux: {}, poll: 1m, settle: 0}\n"), "c.yaml")
    deploy = config.environment("production").deploy
    assert deploy == DeploySettings(flux=FluxSource(), poll_seconds=60, timeout_seconds=600, settle_seconds=0)
    assert (deploy.flux.kind, deploy.flux.name, deploy.flux.namespace, deploy.flux.reconcile) == (
        "Kustomization",
        "{{ app }}",
        "flux-system",
        False,
    )
    promoter = parse_config(_with("", env="    deploy: {promoter: {}}\n"), "c.yaml").environment("production")
    assert promoter.deploy is not None and promoter.deploy.promoter == PromoterSource(None)


def test_freeze_windows_load_as_their_own_kinds() -> None:
    text = _with(
        "",
        env=(
            "    freeze:\n"
            "      - from: 2026-12-20T00:00:00Z\n"
            "        until: '2027-01-04 00:00:00+01:00'\n"
            "        reason: year end\n"
            "      - {days: [sat, sun], start: '22:00', end: '06:00', reason: nights}\n"
        ),
    )
    absolute, recurring = parse_config(text, "c.yaml").environment("production").freeze
    assert isinstance(absolute, AbsoluteFreezeWindow) and isinstance(recurring, RecurringFreezeWindow)
    assert absolute.start == datetime(2026, 12, 20, tzinfo=timezone.utc)  # unquoted timestamps work too
    assert (recurring.days, recurring.start, recurring.end, recurring.timezone) == (
        ("sat", "sun"),
        "22:00",
        "06:00",
        "UTC",
    )


def test_github_app_and_api_commits() -> None:
    text = BASE + "forge: {type: github, app_id: 1, installation_id: 2}\ngit: {commit_via: api}\n"
    config = parse_config(text, "c.yaml")
    assert (config.forge.app_id, config.forge.installation_id) == (1, 2)
    assert config.git == GitSettings(sign="none", commit_via="api")
    signed = parse_config(BASE + "git: {sign: openpgp}\n", "c.yaml")
    assert signed.git == GitSettings(sign="openpgp", commit_via="git")


def test_template_values_keep_the_text_as_written() -> None:
    text = BASE + "previews:\n  values: {version: 1.10, mode: 0x1F, flag: True, name: x}\n"
    assert dict(parse_config(text, "c.yaml").previews.values) == {
        "version": "1.10",
        "mode": "0x1F",
        "flag": "True",
        "name": "x",
    }
    assert PreviewSettings(values={"a": "b"}).values == {"a": "b"}


BROKEN = [
    (
        "deploy-no-source",
        _with("", env="    deploy: {timeout: 5m}\n"),
        "6:5",
        "needs exactly one source (got none)",
    ),
    (
        "deploy-unknown-source",
        _with("", env="    deploy: {argo: {url: 'https://a.example.com'}}\n"),
        "6:14",
        "unknown key 'argo' in 'environments.production.deploy'",
    ),
    (
        "argocd-without-url",
        _with("", env="    deploy: {argocd: {application: x}}\n"),
        "6:14",
        "'environments.production.deploy.argocd' is missing required key 'url'",
    ),
    (
        "flux-kind",
        _with("", env="    deploy: {flux: {kind: GitRepository}}\n"),
        "6:21",
        "must be one of Kustomization, HelmRelease, got 'GitRepository'",
    ),
    (
        "commit-status-empty",
        _with("", env="    deploy: {commit-status: {contexts: []}}\n"),
        "6:30",
        "'environments.production.deploy.commit-status.contexts' must not be empty",
    ),
    ("poll-zero", _with("", env="    deploy: {flux: {}, poll: 0}\n"), "6:24", "longer than zero"),
    ("settle-negative", _with("", env="    deploy: {flux: {}, settle: -1}\n"), "6:24", "cannot be negative"),
    (
        "timeout-boolean",
        _with("", env="    deploy: {flux: {}, timeout: true}\n"),
        "6:24",
        "'environments.production.deploy.timeout' must be a duration, got a boolean",
    ),
    (
        "freeze-until-before-from",
        _with(
            "", env="    freeze: [{from: '2027-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z', reason: x}]\n"
        ),
        "6:45",
        "'environments.production.freeze[0].until' must be later than 'from'",
    ),
    (
        "freeze-without-reason",
        _with("", env="    freeze: [{days: [fri], start: '16:00', end: '18:00'}]\n"),
        "6:14",
        "'environments.production.freeze[0]' is missing required key 'reason'",
    ),
    (
        "freeze-unknown-zone",
        _with(
            "",
            env="    freeze: [{days: [fri], start: '16:00', end: '18:00', timezone: Mars/Base, reason: x}]\n",
        ),
        "6:58",
        "unknown time zone 'Mars/Base'",
    ),
    (
        "freeze-empty-window",
        _with("", env="    freeze: [{days: [fri], start: '16:00', end: '16:00', reason: x}]\n"),
        "6:44",
        "equals 'start'",
    ),
    (
        "freeze-mixed-keys",
        _with(
            "",
            env="    freeze: [{days: [fri], from: '2026-01-01T00:00:00Z', start: '1:00', end: '2:00', reason: x}]\n",
        ),
        "6:28",
        "unknown key 'from' in 'environments.production.freeze[0]'",
    ),
    (
        "update-unknown-environment",
        _with("", app="    update: {environments: [stagign]}\n"),
        "10:29",
        "app 'api' update names unknown environment 'stagign'",
    ),
    (
        "update-constraint-with-digest",
        _with("", app="    update: {strategy: digest, tag: latest, constraint: '^1'}\n"),
        "10:45",
        "'apps.api.update.constraint' applies to strategy semver only",
    ),
    (
        "update-tag-with-semver",
        _with("", app="    update: {tag: latest}\n"),
        "10:14",
        "'apps.api.update.tag' applies to strategy digest only",
    ),
    (
        "update-bad-regex",
        _with("", app="    update: {tags: '(unclosed'}\n"),
        "10:14",
        "not a regular expression",
    ),
    (
        "update-strategy",
        _with("", app="    update: {strategy: latest}\n"),
        "10:14",
        "must be one of semver, digest, newest-build, alphabetical, numerical, got 'latest'",
    ),
    (
        "source-ref-number",
        _with("", app="    source_ref: 1\n"),
        "10:5",
        "'apps.api.source_ref' must be a string, got an integer",
    ),
    (
        "soak-words",
        BASE + "promotion: [{from: staging, to: production, soak: an hour}]\n",
        "10:45",
        "'promotion[0].soak' is not valid",
    ),
    (
        "checks-not-list",
        BASE + "promotion: [{from: staging, to: production, checks: ci/e2e}]\n",
        "10:45",
        "'promotion[0].checks' must be a list, got a string",
    ),
    ("installation-without-github", BASE + "forge: {installation_id: 3}\n", "10:9", "needs type: github"),
    ("app-id-zero", BASE + "forge: {type: github, app_id: 0}\n", "10:23", "must be at least 1, got 0"),
    ("sign-kind", BASE + "git: {sign: gpg}\n", "10:7", "must be one of none, ssh, openpgp, got 'gpg'"),
    (
        "dollar-key",
        "$schema: x\n" + BASE,
        "1:1",
        "keys starting with '$' are not read",
    ),
]


@pytest.mark.parametrize(("text", "where", "fragment"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_section_is_exit_2_at_the_offending_key(text: str, where: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cfg.yaml")
    assert caught.value.exit_code == 2
    assert caught.value.where == f"cfg.yaml:{where}", caught.value.message
    assert fragment in caught.value.message


def test_dollar_key_hint_points_to_the_schema_comment() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("$schema: x\n" + BASE, "cfg.yaml")
    assert "# yaml-language-server: $schema=https://" in (caught.value.hint or "")
