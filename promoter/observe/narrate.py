"""Progress lines for a CI log: one line whenever an app's state changes, a heartbeat every 30 s.

    staging/api: OutOfSync (1.4.2), 1 s
    staging/api: OutOfSync -> Progressing (1.4.2), 35 s
    staging/api: Progressing (1.4.2), 65 s: Waiting for rollout to finish: 1 of 2 updated replicas ...
    staging/api: Progressing -> Healthy (1.4.2), 80 s

Lines go through :func:`promoter.progress.note` (the progress stream, masked, off with ``-q``): plain lines,
no spinner, the same in a terminal and in a log file.
"""

from __future__ import annotations

from collections.abc import Callable

from promoter import progress
from promoter.observe.model import DeploymentState

HEARTBEAT_SECONDS = 30.0


class Narrator:
    def __init__(
        self,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        write: Callable[[str], None] = progress.note,
    ) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self.write = write
        self._last: dict[str, tuple[str, str | None, str | None]] = {}
        self._words: dict[str, str] = {}
        self._last_line_at: dict[str, float] = {}

    def update(self, name: str, label: str, state: DeploymentState, now: float) -> None:
        """Print a line when ``state`` differs from the last one printed for ``name``."""
        key = (state.word, state.revision, state.retrying)
        if self._last.get(name) == key:
            return
        self._last[name] = key
        self._last_line_at[name] = now
        if state.retrying:  # no state word: the poll failed
            self.write(f"{name}: {state.retrying} (retrying), {state.seconds:.0f} s")
            return
        previous = self._words.get(name)
        self._words[name] = state.word
        change = f"{previous} -> {state.word}" if previous and previous != state.word else state.word
        self.write(self._line(name, change, label, state))

    def heartbeat(self, name: str, label: str, state: DeploymentState, now: float) -> None:
        """Re-print the state when nothing was printed for ``name`` for the heartbeat interval."""
        if now - self._last_line_at.get(name, now) >= self.heartbeat_seconds:
            self._last_line_at[name] = now
            self.write(self._line(name, state.word, label, state))

    def next_heartbeat(self) -> float | None:
        if not self._last_line_at:
            return None
        return min(self._last_line_at.values()) + self.heartbeat_seconds

    def _line(self, name: str, change: str, label: str, state: DeploymentState) -> str:
        version = f" ({label})" if label else ""
        text = f"{name}: {change}{version}, {state.seconds:.0f} s"
        detail = state.problem() if state.phase == "failed" else state.message
        if state.retrying:
            detail = f"{state.retrying} (retrying)"
        if detail and state.phase != "healthy":
            text += f": {detail[:300]}"
        return text
