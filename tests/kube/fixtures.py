"""Pytest fixtures: a fake Kubernetes API server per test, with KUBECONFIG pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kube.fakeapi import FakeKube


@pytest.fixture
def fake_kube(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeKube]:
    """A running fake API server; ``KUBECONFIG`` points at it and kubectl's cache stays private."""
    workdir: Path = tmp_path_factory.mktemp("kube")
    with FakeKube(workdir) as kube:
        monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
        monkeypatch.setenv("KUBECACHEDIR", str(workdir / "cache"))
        yield kube
