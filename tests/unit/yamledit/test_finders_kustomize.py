from __future__ import annotations

import pytest

from promoter.errors import UnsafeTargetError
from tests.unit.yamledit._helpers import DIGEST_A, DIGEST_B, sites, update

KUSTOMIZATION = f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
- name: quay.io/argoproj/argocd
  newName: registry.example.com/mirror/argocd
  newTag: latest
- name: acme/api
  newTag: v1  # bumped by CI
  digest: {DIGEST_A}
- name: acme/web
  newTag: v1
resources:
- ./base
"""


def test_entries_match_on_new_name_else_name() -> None:
    found = sites(KUSTOMIZATION, "kustomize")
    assert [str(s.image) for s in found] == [
        "registry.example.com/mirror/argocd:latest",
        f"acme/api:v1@{DIGEST_A}",
        "acme/web:v1",
    ]
    assert found[0].key == "images[0].newTag"
    assert found[0].where == "t.yaml:6:11"
    assert update(KUSTOMIZATION, "quay.io/argoproj/argocd:v3") == KUSTOMIZATION  # old name: not deployed


def test_new_tag_is_set_and_written_as_a_string() -> None:
    new = update(KUSTOMIZATION, "registry.example.com/mirror/argocd:1.10")
    assert new == KUSTOMIZATION.replace("newTag: latest", 'newTag: "1.10"')


def test_stale_digest_is_emptied_and_a_new_one_written() -> None:
    new = update(KUSTOMIZATION, "docker.io/acme/api:v2")
    assert new == KUSTOMIZATION.replace("newTag: v1  #", "newTag: v2  #").replace(
        f"digest: {DIGEST_A}", 'digest: ""'
    )
    pinned = update(KUSTOMIZATION, f"acme/api:v2@{DIGEST_B}")
    assert pinned == KUSTOMIZATION.replace("newTag: v1  #", "newTag: v2  #").replace(DIGEST_A, DIGEST_B)


def test_missing_fields_are_refused_with_the_place() -> None:
    text = "images:\n  - name: acme/api\n    newName: acme/api2\n"
    with pytest.raises(UnsafeTargetError, match="no newTag field") as caught:
        update(text, "acme/api2:v2")
    assert caught.value.where == "t.yaml:2:5"
    with pytest.raises(UnsafeTargetError, match="no digest field"):
        update(KUSTOMIZATION, f"acme/web:v2@{DIGEST_B}")


def test_lists_named_images_elsewhere_need_kustomize_fields() -> None:
    assert sites("images:\n- name: acme/api\n  size: 3\n", "kustomize") == []
