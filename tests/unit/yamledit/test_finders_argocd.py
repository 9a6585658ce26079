from __future__ import annotations

import pytest

from promoter.errors import UnsafeTargetError
from tests.unit.yamledit._helpers import DIGEST_A, DIGEST_B, sites, update

APPLICATION = f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
spec:
  source:
    helm:
      parameters:
        - name: image.repository
          value: registry.example.com/acme/api
        - name: image.tag
          value: "1.0.0"
        - name: image.digest
          value: {DIGEST_A}
        - name: worker.image.repository
          value: registry.example.com/acme/worker
        - name: worker.image.tag
          value: 1.0.0
          forceString: false
        - name: "ingress.annotations.example\\\\.com/tag"
          value: "1.0.0"
      valuesObject:
        sidecar:
          image:
            repository: registry.example.com/acme/sidecar
            tag: 1.0.0
      values: |
        image:
          repository: registry.example.com/acme/api
          tag: 1.0.0
"""


def test_parameters_are_paired_by_prefix() -> None:
    found = sites(APPLICATION, "argocd-parameters")
    assert [(s.key, str(s.image)) for s in found] == [
        (
            "spec.source.helm.parameters[name=image.tag].value",
            f"registry.example.com/acme/api:1.0.0@{DIGEST_A}",
        ),
        (
            "spec.source.helm.parameters[name=worker.image.tag].value",
            "registry.example.com/acme/worker:1.0.0",
        ),
    ]


def test_parameter_update_empties_stale_digest_and_nothing_else_changes() -> None:
    new = update(APPLICATION, "registry.example.com/acme/api:1.1.0")
    assert new == APPLICATION.replace(
        'value: "1.0.0"\n        - name: image.digest', 'value: "1.1.0"\n        - name: image.digest', 1
    ).replace(f"value: {DIGEST_A}", 'value: ""')
    assert new.count('"1.0.0"') == 1  # the annotation parameter keeps its value


def test_parameter_digest_written() -> None:
    new = update(APPLICATION, f"registry.example.com/acme/api:1.1.0@{DIGEST_B}")
    assert DIGEST_B in new and DIGEST_A not in new


def test_number_like_tag_turns_force_string_on() -> None:
    new = update(APPLICATION, "registry.example.com/acme/worker:1.10")
    assert new == APPLICATION.replace(
        "value: 1.0.0\n          forceString: false", 'value: "1.10"\n          forceString: true'
    )


def test_number_like_tag_without_force_string_is_refused() -> None:
    with pytest.raises(UnsafeTargetError, match="forceString") as caught:
        update(APPLICATION, "registry.example.com/acme/api:2")
    assert caught.value.where == "t.yaml:9:11"


def test_values_object_is_walked_as_helm_values() -> None:
    new = update(APPLICATION, "registry.example.com/acme/sidecar:1.2.0")
    assert new == APPLICATION.replace("tag: 1.0.0\n      values", "tag: 1.2.0\n      values")


def test_values_block_string_is_reported_never_rewritten() -> None:
    found = [s for s in sites(APPLICATION) if not s.editable]
    assert len(found) == 1
    assert found[0].key == "spec.source.helm.values > image.tag"
    assert found[0].where == "t.yaml:25:15"
    assert "not editable in place" in (found[0].refusal or "")
    new = update(APPLICATION, "registry.example.com/acme/api:1.1.0")
    assert new.endswith(
        "        image:\n          repository: registry.example.com/acme/api\n          tag: 1.0.0\n"
    )


def test_a_tag_parameter_without_repository_is_not_a_site() -> None:
    text = "helm:\n  parameters:\n    - name: image.tag\n      value: '0.2'\n"
    assert sites(text) == []


KUSTOMIZE_APPSET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
spec:
  template:
    spec:
      sources:
        - repoURL: https://git.example.com/acme/deploy.git
          kustomize:
            images:
            - quay.io/acme/e2e:0.2
            - my-app=gcr.io/acme/my-app:0.1
            - 'other=gcr.io/acme/other'
"""


def test_kustomize_images_strings_in_every_form() -> None:
    found = sites(KUSTOMIZE_APPSET, "argocd-kustomize")
    assert [(s.key, str(s.image)) for s in found] == [
        ("spec.template.spec.sources[0].kustomize.images[0]", "quay.io/acme/e2e:0.2"),
        ("spec.template.spec.sources[0].kustomize.images[1]", "gcr.io/acme/my-app:0.1"),
        ("spec.template.spec.sources[0].kustomize.images[2]", "gcr.io/acme/other"),
    ]
    assert update(KUSTOMIZE_APPSET, "gcr.io/acme/my-app:0.2") == KUSTOMIZE_APPSET.replace(
        "my-app:0.1", "my-app:0.2"
    )
    assert update(KUSTOMIZE_APPSET, f"gcr.io/acme/other:v3@{DIGEST_B}") == KUSTOMIZE_APPSET.replace(
        "'other=gcr.io/acme/other'", f"'other=gcr.io/acme/other:v3@{DIGEST_B}'"
    )


def test_a_tag_parameter_that_pins_its_digest() -> None:
    text = (
        "spec:\n  source:\n    helm:\n      parameters:\n"
        "        - name: image.repository\n          value: ghcr.io/acme/api\n"
        f"        - name: image.tag\n          value: 1.0.0@{DIGEST_A}\n"
    )
    [site] = sites(text, "argocd-parameters")
    assert (site.image.tag, site.image.digest) == ("1.0.0", DIGEST_A)
    assert update(text, f"ghcr.io/acme/api:1.1.0@{DIGEST_B}") == text.replace(
        f"1.0.0@{DIGEST_A}", f"1.1.0@{DIGEST_B}"
    )
