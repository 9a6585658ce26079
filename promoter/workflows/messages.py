"""Commit messages: the user's template, a readable body, and the trailers promoter reads back later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promoter.ci import CiContext
from promoter.config import Config, Environment
from promoter.envrepo import with_trailers
from promoter.errors import ConfigError
from promoter.gates import record
from promoter.yamledit import Change


@dataclass
class AppChange:
    """One app's part of a bump or a promotion: the new reference, the old tags, what changed."""

    app: str
    image: str
    tag: str
    digest: str | None = None
    old_tags: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    downgrade_allowed: str | None = None

    @property
    def version(self) -> str:
        """``tag`` or ``tag@digest``, as ``Promoter-Versions`` records it."""
        from promoter.imageref import ImageRef

        digest = self.digest or ImageRef.parse(self.image).digest
        return f"{self.tag}@{digest}" if digest else self.tag

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "image": self.image,
            "tag": self.tag,
            "digest": self.digest,
            "old_tags": self.old_tags,
            "changes": [change.as_dict() for change in self.changes],
        }


def versions_trailer(apps: Sequence[AppChange]) -> dict[str, str]:
    """``Promoter-Versions`` for the apps whose files this commit changed (none: no trailer)."""
    changed = {app.app: app.version for app in apps if app.changes}
    return {record.VERSIONS: record.format_versions(changed)} if changed else {}


def render_message_template(template: str, variables: Mapping[str, Any], *, source: str) -> str:
    """Render the ``git.message`` template in a sandbox; a broken template is a config error (exit 2)."""
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    try:
        text = environment.from_string(template).render(**variables)
    except TemplateError as exc:
        raise ConfigError(
            f"git.message template does not render: {exc}",
            where=source,
            hint="variables: app, env, tag, image, old_tag, apps",
        ) from None
    subject = " ".join(text.strip().split())
    if not subject:
        raise ConfigError("git.message renders to an empty subject", where=source)
    return subject


def commit_message(
    config: Config,
    env: Environment,
    apps: Sequence[AppChange],
    ci: CiContext,
    *,
    notes: Sequence[str] = (),
    extra_trailers: Mapping[str, str] | None = None,
) -> str:
    """The user's subject, one line per app, ``notes`` (override, ...), and promoter's trailers."""
    names = ", ".join(app.app for app in apps)
    tags = ", ".join(dict.fromkeys(app.tag for app in apps))
    first = apps[0] if apps else None
    subject = render_message_template(
        config.git.message,
        {
            "app": names,
            "env": env.name,
            "tag": tags,
            "image": ", ".join(app.image for app in apps),
            "old_tag": ", ".join(first.old_tags) if first else "",
            "apps": [{"name": a.app, "tag": a.tag, "image": a.image, "old": a.old_tags} for a in apps],
        },
        source=config.source,
    )
    body = [f"- {app.app}: {', '.join(app.old_tags) or '(none)'} -> {app.tag}" for app in apps]
    allowed = [f"{app.app} ({app.downgrade_allowed})" for app in apps if app.downgrade_allowed]
    if allowed:
        body.append("")
        body.append("Downgrade allowed with --allow-downgrade: " + ", ".join(allowed))
    for note in notes:
        body += ["", note]
    trailers = {
        "Promoter-App": names,
        "Promoter-Env": env.name,
        "Promoter-Image": ", ".join(app.image for app in apps),
        **versions_trailer(apps),
        **ci.trailers(),
        **(extra_trailers or {}),
    }
    return with_trailers(subject + "\n\n" + "\n".join(body), trailers)
