"""``promoter.yaml`` -> a typed, validated, immutable :class:`Config`.

The model is declarative: one module per section (:mod:`~promoter.config.root`, ``forge``, ``git``,
``environments`` with ``deploy`` and ``freeze``, ``apps`` with ``update``, ``promotion``, ``previews``), each
a frozen msgspec struct whose annotated fields carry their types, defaults, rules and descriptions. The loader
(:mod:`~promoter.config.loader`) reads the YAML keeping every value's place and reports any problem as one
:class:`~promoter.errors.ConfigError` at ``file:line:col``. ``docs/config.md`` and the JSON Schema
(:mod:`~promoter.config.schema`) are generated from the same model (:mod:`~promoter.config.docs`).
"""

from __future__ import annotations

from promoter.config.apps import App, AppEnvironment, Apps, EnvironmentFiles, FileTarget
from promoter.config.deploy import (
    ArgoCDSource,
    CommitStatusSource,
    DeploySettings,
    FluxSource,
    PromoterSource,
)
from promoter.config.environments import Environment, Environments
from promoter.config.forge import FORGE_TYPES, ForgeConfig
from promoter.config.freeze import AbsoluteFreezeWindow, FreezeWindow, RecurringFreezeWindow
from promoter.config.git import GitSettings
from promoter.config.loader import CONFIG_FILE, load_config, locate_config, parse_config, resolve_config
from promoter.config.previews import PreviewSettings, TemplateValues
from promoter.config.promotion import CopyRule, Promotion
from promoter.config.root import SUPPORTED_VERSION, Config
from promoter.config.update import UpdatePolicy
from promoter.config.values import branch_name_problem, parse_duration, safe_join

__all__ = [
    "CONFIG_FILE",
    "FORGE_TYPES",
    "SUPPORTED_VERSION",
    "AbsoluteFreezeWindow",
    "App",
    "AppEnvironment",
    "Apps",
    "ArgoCDSource",
    "CommitStatusSource",
    "Config",
    "CopyRule",
    "DeploySettings",
    "Environment",
    "EnvironmentFiles",
    "Environments",
    "FileTarget",
    "FluxSource",
    "ForgeConfig",
    "FreezeWindow",
    "GitSettings",
    "PreviewSettings",
    "PromoterSource",
    "Promotion",
    "RecurringFreezeWindow",
    "TemplateValues",
    "UpdatePolicy",
    "branch_name_problem",
    "load_config",
    "locate_config",
    "parse_config",
    "parse_duration",
    "resolve_config",
    "safe_join",
]
