from __future__ import annotations

import pytest

from promoter.errors import EXIT_INPUT, UnsafeTargetError
from tests.unit.yamledit._helpers import DIGEST_A, DIGEST_B, sites, update

BITNAMI = f"""\
image:
  registry: docker.io
  repository: bitnami/postgresql
  tag: 17.6.0-debian-12-r4   # keep me
  digest: "{DIGEST_A}"
metrics:
  image:
    registry: docker.io
    repository: bitnami/postgres-exporter
    tag: 17.6.0-debian-12-r4
    digest: ""
"""


def test_registry_and_repository_are_joined_for_matching() -> None:
    found = sites(BITNAMI, "helm-block")
    assert [str(s.image) for s in found] == [
        f"docker.io/bitnami/postgresql:17.6.0-debian-12-r4@{DIGEST_A}",
        "docker.io/bitnami/postgres-exporter:17.6.0-debian-12-r4",
    ]
    assert found[0].key == "image.tag"
    assert found[0].where == "t.yaml:4:8"


def test_new_tag_empties_stale_digest_and_leaves_the_other_image_sharing_the_tag() -> None:
    new = update(BITNAMI, "bitnami/postgresql:18.0.0")
    assert new == BITNAMI.replace("tag: 17.6.0-debian-12-r4   #", "tag: 18.0.0   #").replace(
        f'digest: "{DIGEST_A}"', 'digest: ""'
    )


def test_new_digest_is_written() -> None:
    new = update(BITNAMI, f"docker.io/bitnami/postgres-exporter:0.18@{DIGEST_B}")
    assert new == BITNAMI.replace(
        '    tag: 17.6.0-debian-12-r4\n    digest: ""', f'    tag: "0.18"\n    digest: "{DIGEST_B}"'
    )


def test_sha_field_holds_bare_hex() -> None:
    text = "image:\n  registry: quay.io\n  repository: prometheus/prometheus\n  tag: v3.0.0\n  sha: ''\n"
    new = update(text, f"quay.io/prometheus/prometheus:v3.1.0@{DIGEST_B}")
    assert new == text.replace("v3.0.0", "v3.1.0").replace("sha: ''", "sha: '" + "b" * 64 + "'")
    stale = update(new, "quay.io/prometheus/prometheus:v3.2.0")
    assert stale == text.replace("v3.0.0", "v3.2.0")


@pytest.mark.parametrize(
    ("tag", "written"), [("1.10", '"1.10"'), ("1234567", '"1234567"'), ("2024-06-27", '"2024-06-27"')]
)
def test_tags_that_look_like_other_types_are_quoted(tag: str, written: str) -> None:
    text = "app:\n  image:\n    repository: acme/api\n    tag: 1.0.0\n"
    assert update(text, f"acme/api:{tag}") == text.replace("1.0.0", written)


def test_quoting_follows_the_files_habit() -> None:
    text = "a:\n  repository: acme/api\n  tag: v1\nb: 'x'\nc: 'y'\n"
    assert update(text, "acme/api:1.10") == text.replace("tag: v1", "tag: '1.10'")


def test_image_key_names_the_repository_and_digest_chroot_is_emptied() -> None:
    text = (
        'controller:\n  image:\n    image: ingress-nginx/controller\n    tag: "v1.15.1"\n'
        f"    digest: {DIGEST_A}\n    digestChroot: {DIGEST_B}\n"
    )
    new = update(text, "ingress-nginx/controller:v1.16.0")
    assert new == (
        'controller:\n  image:\n    image: ingress-nginx/controller\n    tag: "v1.16.0"\n'
        '    digest: ""\n    digestChroot: ""\n'
    )


def test_block_under_any_key_flow_style_and_empty_tag() -> None:
    text = "solrImage: {repository: solr, tag: '8.11'}\nother:\n  name: acme/worker\n  tag:\n"
    assert update(text, "docker.io/library/solr:9.0") == text.replace("'8.11'", "'9.0'")
    assert update(text, "acme/worker:2") == text.replace("tag:\n", "tag: '2'\n")


def test_a_block_without_tag_key_or_with_a_templated_name_is_not_a_site() -> None:
    text = (
        "a:\n  repository: acme/api\n  pullPolicy: Always\nb:\n  repository: '{{ .Values.x }}'\n  tag: v1\n"
    )
    assert sites(text, "helm-block") == []


def test_anchored_tag_is_refused_not_skipped() -> None:
    text = "a:\n  repository: acme/api\n  tag: &v 1.0.0\nb:\n  repository: acme/web\n  tag: *v\n"
    with pytest.raises(UnsafeTargetError) as caught:
        update(text, "acme/api:2.0.0")
    assert "anchor" in caught.value.message
    assert caught.value.where == "t.yaml:3:8"
    assert caught.value.exit_code == EXIT_INPUT
    with pytest.raises(UnsafeTargetError, match="alias"):
        update(text, "acme/web:2.0.0")


def test_anchored_block_is_edited_once_where_defined() -> None:
    text = "image: &img\n  repository: acme/api\n  tag: v1\nsub:\n  image: *img\n"
    assert len(sites(text, "helm-block")) == 1
    assert update(text, "acme/api:v2") == text.replace("v1", "v2")


def test_digest_without_a_digest_field_is_refused() -> None:
    text = "image:\n  repository: acme/api\n  tag: v1\n"
    with pytest.raises(UnsafeTargetError, match="no digest field"):
        update(text, f"acme/api:v2@{DIGEST_A}")


def test_a_tag_that_pins_its_digest_is_read_and_written_whole() -> None:
    text = f"image:\n  repository: ghcr.io/acme/api\n  tag: 1.0.0@{DIGEST_A}  # renovate\n"
    [site] = sites(text, "helm-block")
    assert (site.image.tag, site.image.digest) == ("1.0.0", DIGEST_A)
    assert update(text, f"ghcr.io/acme/api:2.0.0@{DIGEST_B}") == text.replace(
        f"1.0.0@{DIGEST_A}", f"2.0.0@{DIGEST_B}"
    )
    assert update(text, f"ghcr.io/acme/api@{DIGEST_B}") == text.replace(DIGEST_A, DIGEST_B)
    assert update(text, "ghcr.io/acme/api:2.0.0") == text.replace(f"1.0.0@{DIGEST_A}", "2.0.0")


def test_a_digest_field_wins_over_an_at_sign_in_the_tag() -> None:
    text = f'image:\n  repository: acme/api\n  tag: 1.0.0@{DIGEST_A}\n  digest: ""\n'
    [site] = sites(text, "helm-block")
    assert (site.image.tag, site.image.digest) == (None, None)  # the tag is not a valid tag by itself
    assert (
        update(text, f"acme/api:2.0.0@{DIGEST_B}")
        == f'image:\n  repository: acme/api\n  tag: 2.0.0\n  digest: "{DIGEST_B}"\n'
    )


def test_a_number_like_version_stays_a_string() -> None:
    text = f"image:\n  repository: acme/api\n  tag: 124@{DIGEST_A}\n"
    assert update(text, "acme/api:125") == 'image:\n  repository: acme/api\n  tag: "125"\n'


def test_merged_fields_own_keys_win_then_the_first_merged_mapping() -> None:
    text = (
        "a: &a {repository: acme/one, tag: v1, pullPolicy: Always}\n"
        "b: &b {repository: acme/two, tag: v2, registry: reg.example.com}\n"
        "own:\n  <<: [*a, *b]\n  tag: v3\n"
    )
    found = {(s.key, str(s.image)) for s in sites(text, "helm-block")}
    assert found == {
        ("a.tag", "acme/one:v1"),
        ("b.tag", "reg.example.com/acme/two:v2"),
        ("own.tag", "reg.example.com/acme/one:v3"),
    }


def test_a_merged_value_shared_with_another_image_is_refused() -> None:
    text = "base: &base\n  repository: acme/api\n  tag: v1\nworker:\n  <<: *base\n  repository: acme/worker\n"
    with pytest.raises(UnsafeTargetError) as caught:
        update(text, "acme/api:v2")
    assert caught.value.where == "t.yaml:3:8"
    assert "acme/worker" in caught.value.message
    with pytest.raises(UnsafeTargetError, match="acme/api"):
        update(text, "acme/worker:v2")  # the other way round too
