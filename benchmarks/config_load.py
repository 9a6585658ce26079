"""Config load cost and CLI start-up (BENCHMARKS.md: "Config model", "CLI start-up").

What a ``bump`` process pays for its config: importing the model library, building the model classes and
validating a realistic ``promoter.yaml`` (6 environments with deployment sources and freeze windows, 40 apps with
update policies and per-environment files, a promotion chain, previews). Each measurement is a fresh process;
the variants run interleaved; the figures are medians.

  a) promoter's model (msgspec): ``parse_config(text)`` (YAML read + validation) and ``decode(data)`` alone
  b) one prototype of the model (same sections, keys, strictness and checks; benchmarks/config_models/) in each
     candidate library: msgspec, pydantic v2, attrs + cattrs: validation of the same data (YAML reading
     excluded, as in a's ``decode``)
  c) the hand-written validator this model replaced (``promoter/config.py`` at COMMIT, read with ``git show``)
     versus promoter's model on a config with only the keys the old one knows
  d) ``python -c "import click"`` versus ``promoter --version`` and ``promoter --help``

Usage: python3 benchmarks/config_load.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "fa6ed88"  # the last commit with the hand-written promoter/config.py
PROMOTER = [sys.executable, "-m", "promoter"]

TIMED = """\
import json, sys, time
t0 = time.perf_counter()
{body}
t1 = time.perf_counter()
print(json.dumps({{"load": t1 - t0}}))
"""

VARIANTS = {
    "promoter (msgspec): parse_config": (
        "from promoter.config import parse_config\n"
        "config = parse_config(open(sys.argv[1]).read(), 'promoter.yaml')\n"
        "assert len(config.apps) == 40"
    ),
    "promoter (msgspec): decode": (
        "from promoter.config import Config\nfrom promoter.config.section import decode\n"
        "config = decode(json.load(open(sys.argv[2])), Config)\nassert len(config.apps) == 40"
    ),
    "msgspec (same prototype)": (
        "from benchmarks.config_models.msgspec_model import load\n"
        "config = load(json.load(open(sys.argv[2])))\nassert len(config.apps) == 40"
    ),
    "pydantic v2 (dataclasses)": (
        "from benchmarks.config_models.pydantic_model import load\n"
        "config = load(json.load(open(sys.argv[2])))\nassert len(config.apps) == 40"
    ),
    "attrs + cattrs": (
        "from benchmarks.config_models.cattrs_model import load\n"
        "config = load(json.load(open(sys.argv[2])))\nassert len(config.apps) == 40"
    ),
}

OLD_VARIANTS = {
    "hand-written (before)": (
        "import importlib.util\n"
        "spec = importlib.util.spec_from_file_location('old_config', sys.argv[3])\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['old_config'] = module\n"
        "spec.loader.exec_module(module)\n"
        "config = module.parse_config(open(sys.argv[4]).read(), 'promoter.yaml')\n"
        "assert len(config.apps) == 40"
    ),
    "promoter (msgspec) on the same file": (
        "from promoter.config import parse_config\n"
        "config = parse_config(open(sys.argv[4]).read(), 'promoter.yaml')\n"
        "assert len(config.apps) == 40"
    ),
}


def realistic(*, new_keys: bool = True) -> dict[str, object]:
    """A config of the size a platform team runs: 6 environments, 40 apps."""
    names = ["dev", "test", "qa", "staging", "preprod", "production"]
    environments: dict[str, object] = {}
    for index, name in enumerate(names):
        env: dict[str, object] = {
            "branch": name,
            "approval": index >= 4,
            "labels": ["promotion"],
            "reviewers": ["ops-lead", "sre"],
            "url": f"https://{name}.example.com",
        }
        if new_keys:
            env["deploy"] = {
                "argocd": {"url": "https://argocd.example.com", "application": "{{ app }}-{{ env }}"}
            }
            env["freeze"] = [
                {
                    "from": "2026-12-20T00:00:00+01:00",
                    "until": "2027-01-04T00:00:00+01:00",
                    "reason": "year end",
                },
                {
                    "days": ["fri"],
                    "start": "16:00",
                    "end": "23:59",
                    "timezone": "Europe/Berlin",
                    "reason": "friday",
                },
            ]
        environments[name] = env
    apps: dict[str, object] = {}
    for index in range(40):
        app: dict[str, object] = {
            "image": f"registry.example.com/acme/app{index}",
            "files": [{"file": "values.yaml", "key": f"apps.app{index}.image.tag"}, f"apps/app{index}.yaml"],
            "environments": {
                "production": {"files": [{"file": "values-prod.yaml", "key": "image.tag", "doc": 1}]}
            },
            "source_repo": f"https://gitlab.example.com/acme/app{index}",
        }
        if new_keys:
            app["source_ref"] = "v{{ tag }}"
            app["update"] = {
                "strategy": "semver",
                "constraint": "^1.2",
                "ignore": ["*-rc*"],
                "environments": ["dev"],
            }
        apps[f"app{index}"] = app
    promotion: list[dict[str, object]] = []
    for source, target in itertools.pairwise(names):
        rule: dict[str, object] = {"from": source, "to": target, "copy": ["version.yaml"]}
        if new_keys:
            rule.update(soak="1h", checks=["ci/e2e"])
        promotion.append(rule)
    return {
        "version": 1,
        "repo": "https://gitlab.example.com/acme/environments.git",
        "forge": {"type": "gitlab", "url": "https://gitlab.example.com", "project": "acme/environments"},
        "git": {
            "author": "Release Bot <release-bot@example.com>",
            "message": "{{ app }}: {{ env }} -> {{ tag }}",
        },
        "environments": environments,
        "apps": apps,
        "promotion": promotion,
        "previews": {"branch": "previews", "ttl": "3d", "values": {"domain": "preview.example.com"}},
    }


# As installed: modules load from bytecode (a shell with PYTHONDONTWRITEBYTECODE would compile every
# module from source in every process, which no installed promoter does).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(command: list[str]) -> tuple[float, float | None]:
    """Wall time of a fresh process, and the in-process load time it printed (if any)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT, env=ENV)
    wall = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    load = json.loads(lines[-1])["load"] if lines and lines[-1].startswith('{"load"') else None
    return wall, load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = realistic()
        (work / "config.json").write_text(json.dumps(data))
        (work / "promoter.yaml").write_text(json.dumps(data, indent=2))  # JSON is YAML
        (work / "old.yaml").write_text(json.dumps(realistic(new_keys=False), indent=2))
        old_source = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:promoter/config.py"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        (work / "old_config.py").write_text(old_source)
        argv = [str(work / name) for name in ("promoter.yaml", "config.json", "old_config.py", "old.yaml")]
        commands = {
            name: [sys.executable, "-c", TIMED.format(body=body), *argv] for name, body in VARIANTS.items()
        }
        commands |= {
            name: [sys.executable, "-c", TIMED.format(body=body), *argv]
            for name, body in OLD_VARIANTS.items()
        }
        commands |= {
            "import click": [sys.executable, "-c", "import click"],
            "promoter --version": [*PROMOTER, "--version"],
            "promoter --help": [*PROMOTER, "--help"],
            "python -c pass": [sys.executable, "-c", "pass"],
        }
        compileall.compile_dir(ROOT / "promoter", quiet=1)
        compileall.compile_dir(ROOT / "benchmarks" / "config_models", quiet=1)
        compileall.compile_file(work / "old_config.py", quiet=1)
        for command in commands.values():  # warm the file cache
            run(command)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        loads: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                wall, load = run(command)
                walls[name].append(wall)
                if load is not None:
                    loads[name].append(load)
    ms = {name: statistics.median(values) * 1000 for name, values in walls.items()}
    load_ms = {name: statistics.median(values) * 1000 for name, values in loads.items() if values}
    print(f"median of {args.runs} fresh processes, interleaved")
    print(f"{'variant':40} {'import+build+validate':>22} {'process':>9}")
    for name in [*VARIANTS, *OLD_VARIANTS]:
        print(f"{name:40} {load_ms[name]:19.1f} ms {ms[name]:6.0f} ms")
    for name in ("python -c pass", "import click", "promoter --version", "promoter --help"):
        print(f"{name:40} {'':22} {ms[name]:6.0f} ms")
    click = ms["import click"]
    print(f"--version / import click: {ms['promoter --version'] / click:.2f}x (target < 2x)")
    print(f"--help / import click: {ms['promoter --help'] / click:.2f}x (target < 2x)")
    base = load_ms["msgspec (same prototype)"]
    for name in ("pydantic v2 (dataclasses)", "attrs + cattrs"):
        print(f"{name} / msgspec (the same prototype model): {load_ms[name] / base:.2f}x")
    print(
        "msgspec / hand-written (same old-keys file, YAML included): "
        f"{load_ms['promoter (msgspec) on the same file'] / load_ms['hand-written (before)']:.2f}x"
    )


if __name__ == "__main__":
    main()
