from __future__ import annotations

from tests.unit.yamledit._helpers import DIGEST_A, sites, update

FULL = """\
spec:
  containers:
  - name: c
    image: ghcr.io/acme/api:v1.0.0 # {"$imagepolicy": "flux-system:api"}
  - name: d
    image: ghcr.io/acme/web:v1.0.0 # {"$imagepolicy": "flux-system:web"}
"""

SPLIT = f"""\
images:
  - name: app
    newName: ghcr.io/acme/api # {{"$imagepolicy": "flux-system:api:name"}}
    newTag: v1 # {{"$imagepolicy": "flux-system:api:tag"}}
    newDigest: {DIGEST_A} # {{"$imagepolicy": "flux-system:api:digest"}}
helm:
  image:
    repository: ghcr.io/acme/web
    tag: "v1"   #  {{ "$imagepolicy" : "flux-system:web:tag" }}
"""


def test_full_reference_markers() -> None:
    found = sites(FULL, "flux-setter")
    assert [(s.key, str(s.image)) for s in found] == [
        ("spec.containers[0].image", "ghcr.io/acme/api:v1.0.0"),
        ("spec.containers[1].image", "ghcr.io/acme/web:v1.0.0"),
    ]
    assert update(FULL, "ghcr.io/acme/api:v1.1.0") == FULL.replace("api:v1.0.0", "api:v1.1.0")


def test_split_markers_name_tag_digest() -> None:
    found = sites(SPLIT, "flux-setter")
    assert [(s.key, str(s.image)) for s in found] == [
        ("images[0].newTag", f"ghcr.io/acme/api:v1@{DIGEST_A}"),
        ("helm.image.tag", "ghcr.io/acme/web:v1"),
    ]
    new = update(SPLIT, "ghcr.io/acme/api:v2")
    assert new == SPLIT.replace("newTag: v1 #", "newTag: v2 #").replace(
        f"newDigest: {DIGEST_A}", 'newDigest: ""'
    )
    assert update(SPLIT, "ghcr.io/acme/web:v2") == SPLIT.replace('tag: "v1"', 'tag: "v2"')


def test_marker_must_follow_the_value_on_its_line() -> None:
    text = 'a:\n  # {"$imagepolicy": "ns:p"}\n  image: acme/api:v1\nb: acme/x:v1 # {"$imagepolicy": "ns:q"}\n'
    assert [s.key for s in sites(text, "flux-setter")] == ["b"]


def test_no_markers_no_sites() -> None:
    assert sites("image: acme/api:v1 # plain comment\n", "flux-setter") == []
