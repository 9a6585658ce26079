from __future__ import annotations

from tests.unit.yamledit._helpers import DIGEST_A, DIGEST_B, sites, update

DEPLOYMENT = """\
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/acme/api:1.0.0
      containers:
        - name: api
          image: "registry.example.com/acme/api:1.0.0"  # same image twice
        - image: registry.example.com/acme/web:1.0.0
          name: web
        - name: proxy
          image: nginx
"""


def test_every_container_and_init_container_string_is_found() -> None:
    found = sites(DEPLOYMENT, "image-string")
    assert [(s.key, str(s.image)) for s in found] == [
        ("spec.template.spec.initContainers[0].image", "registry.example.com/acme/api:1.0.0"),
        ("spec.template.spec.containers[0].image", "registry.example.com/acme/api:1.0.0"),
        ("spec.template.spec.containers[1].image", "registry.example.com/acme/web:1.0.0"),
        ("spec.template.spec.containers[2].image", "nginx"),
    ]


def test_only_the_matching_repository_changes_even_with_a_shared_tag() -> None:
    new = update(DEPLOYMENT, "registry.example.com/acme/api:1.1.0")
    expected = DEPLOYMENT.replace("acme/api:1.0.0", "acme/api:1.1.0")
    assert new == expected
    assert "acme/web:1.0.0" in new


def test_tagless_image_gets_the_tag_and_registry_spelling_is_kept() -> None:
    new = update(DEPLOYMENT, "docker.io/library/nginx:1.27")
    assert new == DEPLOYMENT.replace("image: nginx\n", "image: nginx:1.27\n")


def test_digest_is_replaced_or_removed() -> None:
    text = f"image: ghcr.io/acme/api:v1@{DIGEST_A}\n"
    assert update(text, "ghcr.io/acme/api:v2") == "image: ghcr.io/acme/api:v2\n"
    assert update(text, f"ghcr.io/acme/api:v2@{DIGEST_B}") == f"image: ghcr.io/acme/api:v2@{DIGEST_B}\n"
    assert update(text, f"ghcr.io/acme/api@{DIGEST_B}") == f"image: ghcr.io/acme/api:v1@{DIGEST_B}\n"


def test_single_quotes_and_crlf_survive() -> None:
    text = "spec:\r\n  image: 'quay.io/prometheus/prometheus:v2.37.0'\r\n  version: v2.37.0\r\n"
    new = update(text, "quay.io/prometheus/prometheus:v2.38.0")
    assert new == text.replace("prometheus:v2.37.0'", "prometheus:v2.38.0'")


def test_image_beside_tag_is_a_helm_block_not_a_string() -> None:
    text = "exporter:\n  image: oliver006/redis_exporter\n  tag: v1.75.0\n"
    assert sites(text, "image-string") == []
    assert update(text, "oliver006/redis_exporter:v1.76.0") == text.replace("v1.75.0", "v1.76.0")


def test_templated_or_non_string_values_are_not_images() -> None:
    text = "a:\n  image: '{{ .Values.image }}'\nb:\n  image: 12\nc:\n  image:\n"
    assert sites(text) == []
