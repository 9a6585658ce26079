"""The JSON Schema and docs/config.md are generated from the model, and agree with it on every fixture."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from promoter.config import load_config, parse_config
from promoter.config.docs import generated_files, main
from promoter.config.schema import SCHEMA_URL, json_schema
from promoter.errors import ConfigError

ROOT = Path(__file__).parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "config"
VALID = sorted(FIXTURES.glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
HEADER = re.compile(r"# model: (?P<where>\d+:\d+) (?P<fragment>.+)\n")


def _yaml_data(text: str) -> Any:
    """The file as an editor's YAML language server sees it: timestamps stay strings."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import SafeConstructor

    class Loader(SafeConstructor):
        pass

    Loader.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)
    yaml = YAML(typ="safe")
    yaml.Constructor = Loader
    return yaml.load(text)


@pytest.fixture(scope="module")
def validator() -> Any:
    # In the test extra; the lowest-dependency run of the unit tests installs only what promoter needs.
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_docs_and_schema_match_the_model() -> None:
    for path, text in generated_files(ROOT).items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: python -m promoter.config.docs --write"
        )


def test_check_command_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tests" / "fixtures" / "config").mkdir(parents=True)
    (tmp_path / "tests" / "fixtures" / "config" / "full.yaml").write_text(
        (FIXTURES / "full.yaml").read_text()
    )
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert main(["--write", "--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "docs" / "config.md").write_text("edited by hand\n")
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "out of date: docs/config.md" in capsys.readouterr().out


def test_schema_identity_and_dialect() -> None:
    schema = json.loads((ROOT / "schema" / "promoter.schema.json").read_text())
    assert schema["$id"] == SCHEMA_URL
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False and "^x-" in schema["patternProperties"]
    environment = schema["$defs"]["Environment"]
    assert environment["additionalProperties"] is False and "name" not in environment["properties"]
    assert environment["properties"]["branch"]["description"] == "The branch holding this environment."


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_fixture_passes_the_model(path: Path) -> None:
    assert load_config(path).environments


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_fixture_passes_the_schema(path: Path, validator: Any) -> None:
    errors = [e.message for e in validator.iter_errors(_yaml_data(path.read_text(encoding="utf-8")))]
    assert errors == []


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_fails_the_model_at_its_place(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = HEADER.match(text)
    assert header, f"{path.name} starts with '# model: LINE:COL MESSAGE'"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cfg.yaml")
    assert caught.value.exit_code == 2
    assert caught.value.where == f"cfg.yaml:{header['where']}", caught.value.message
    assert header["fragment"] in caught.value.message


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_fails_the_schema(path: Path, validator: Any) -> None:
    assert list(validator.iter_errors(_yaml_data(path.read_text(encoding="utf-8")))), "the schema accepts it"


def test_every_model_section_is_in_the_schema() -> None:
    defs = json_schema()["$defs"]
    for name in ("ForgeConfig", "GitSettings", "Environment", "DeploySettings", "ArgoCDSource", "FluxSource",
                 "CommitStatusSource", "PromoterSource", "AbsoluteFreezeWindow", "RecurringFreezeWindow", "App",
                 "FileTarget", "AppEnvironment", "UpdatePolicy", "Promotion", "CopyRule", "PreviewSettings"):  # fmt: skip
        assert name in defs
