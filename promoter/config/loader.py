"""Finding, reading and validating ``promoter.yaml``: the entry points the rest of promoter uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from promoter.errors import ConfigError

__all__ = ["CONFIG_FILE", "load_config", "locate_config", "parse_config", "resolve_config"]

CONFIG_FILE = "promoter.yaml"


def parse_config(text: str, source: str) -> Config:
    """Validate ``text`` (the content of ``promoter.yaml``) into a :class:`Config`; ``source`` names it.

    Top-level keys starting with ``x-`` are ignored (a place for YAML anchors). Every problem is a
    :class:`ConfigError` (exit 2) at ``source:line:col`` of the offending key.
    """
    import msgspec
    from msgspec.structs import force_setattr

    from promoter.config.problems import explain
    from promoter.config.root import Config
    from promoter.config.section import decode
    from promoter.config.yamlread import read_yaml

    document = read_yaml(text, source, empty_hint=f"start with: {Config.example}")
    data = document.data(skip_top_level=lambda key: key.startswith("x-"))
    try:
        config = decode(data, Config)
    except msgspec.ValidationError as exc:
        raise explain(exc, document, Config) from None
    force_setattr(config, "source", source)
    force_setattr(config, "document", document)
    return config


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path`` (exit 2 when unreadable or invalid)."""
    return parse_config(_read(path), str(path))


def _read(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} does not exist",
            where=str(path),
            hint="pass --config FILE or create promoter.yaml (promoter init)",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})", where=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", where=str(path)) from None


def locate_config(
    explicit: str | None,
    cwd: Path,
    read_from_repo: Callable[[str], str | None] | None,
    *,
    repo_label: str = "env-repo",
) -> tuple[str, str] | None:
    """Find the config: ``--config`` FILE, else ``./promoter.yaml``, else the env repo's default branch.

    Returns ``(text, source)`` or None when there is none. ``read_from_repo(name)`` returns the text of
    ``name`` at the root of the env repo's default branch, or None; that source is called
    ``<repo_label>:promoter.yaml``.
    An explicit file that does not exist is an error (exit 2), never a silent fallback.
    """
    if explicit:
        path = Path(explicit)
        if not path.is_absolute():
            path = cwd / path
        return _read(path), explicit
    local = cwd / CONFIG_FILE
    if local.is_file():
        return _read(local), str(local)
    if read_from_repo is not None:
        text = read_from_repo(CONFIG_FILE)
        if text is not None:
            return text, f"{repo_label}:{CONFIG_FILE}"
    return None


def resolve_config(
    explicit: str | None,
    cwd: Path,
    read_from_repo: Callable[[str], str | None] | None,
    *,
    repo: str | None = None,
    repo_label: str = "env-repo",
) -> Config:
    """:func:`locate_config` + :func:`parse_config`, with ``repo`` (``--repo``/``PROMOTER_REPO``) on top.

    No config anywhere is a :class:`ConfigError` (exit 2).
    """
    found = locate_config(explicit, cwd, read_from_repo, repo_label=repo_label)
    if found is None:
        raise ConfigError(
            f"no {CONFIG_FILE} found",
            where=str(cwd / CONFIG_FILE),
            hint=f"pass --config FILE, create {CONFIG_FILE} (promoter init), or commit it to the env repo",
        )
    text, source = found
    return parse_config(text, source).with_repo(repo)


from promoter.config.root import Config  # noqa: E402  (for annotations; the package imports root first)
