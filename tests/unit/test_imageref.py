from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promoter.errors import EXIT_INPUT, ImageReferenceError
from promoter.imageref import ImageRef, is_valid_digest, is_valid_tag, split_pinned_tag

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", None, "nginx", None, None),
        ("nginx:1.25", None, "nginx", "1.25", None),
        ("acme/api:1234", None, "acme/api", "1234", None),
        ("a/b/c:latest", None, "a/b/c", "latest", None),
        ("registry.example.com/acme/api:1.2.3", "registry.example.com", "acme/api", "1.2.3", None),
        ("registry.example.com:5000/acme/api", "registry.example.com:5000", "acme/api", None, None),
        ("registry.example.com:5000/acme/api:v2", "registry.example.com:5000", "acme/api", "v2", None),
        ("localhost/api", "localhost", "api", None, None),
        ("localhost:5000/api:1", "localhost:5000", "api", "1", None),
        ("127.0.0.1:5000/x/y/z:t", "127.0.0.1:5000", "x/y/z", "t", None),
        ("[::1]:5000/api:1", "[::1]:5000", "api", "1", None),
        ("Registry.Example.COM/api", "Registry.Example.COM", "api", None, None),
        (f"nginx@{DIGEST}", None, "nginx", None, DIGEST),
        (f"ghcr.io/acme/api:1.0@{DIGEST}", "ghcr.io", "acme/api", "1.0", DIGEST),
        (f"host:443/api@{DIGEST}", "host:443", "api", None, DIGEST),
        ("ab__c-d--e_f/g.h:_tag", None, "ab__c-d--e_f/g.h", "_tag", None),
        ("localhost:5000", None, "localhost", "5000", None),
        ("my-registry:5000/api", "my-registry:5000", "api", None, None),
        ("docker.io/library/nginx:stable-alpine", "docker.io", "library/nginx", "stable-alpine", None),
    ],
)
def test_parse_splits_parts_as_written(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = ImageRef.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("Nginx:1", "must be lowercase"),
        ("ACME/api", "must be lowercase"),
        ("registry.example.com/Acme/api:1", "must be lowercase"),
        ("nginx:", "tag after ':' is empty"),
        ("nginx:-bad", "tag '-bad' is not valid"),
        ("nginx:.bad", "tag '.bad' is not valid"),
        ("nginx:" + "a" * 129, "is not valid"),
        ("nginx:a/b", None),
        ("nginx:1 2", "whitespace"),
        (" nginx", "whitespace"),
        ("nginx\t", "whitespace"),
        ("nginx@", "digest after '@' is empty"),
        ("nginx@sha256:abc", "exactly 64 lowercase hex"),
        ("nginx@sha256:" + "AB" * 32, "exactly 64 lowercase hex"),
        ("nginx@md5", "sha256:<64 hex"),
        ("nginx@sha256:" + "a" * 64 + "@x", "more than one '@'"),
        ("https://registry.example.com/api", "URL scheme"),
        ("acme//api", "empty path component"),
        ("acme/api/", "empty path component"),
        ("/api", "empty path component"),
        ("acme/-api", "not valid"),
        ("acme/api-", "not valid"),
        ("acme/a..b", "not valid"),
        ("acme/a___b", "not valid"),
        ("bad_host.com/api", "not a valid host"),
        ("host:port/api", "not a valid host"),
        ("a" * 256, "longer than 255"),
    ],
)
def test_parse_rejects_invalid_references_clearly(text: str, needle: str | None) -> None:
    with pytest.raises(ImageReferenceError) as caught:
        ImageRef.parse(text)
    error = caught.value
    assert error.exit_code == EXIT_INPUT
    assert repr(text) in error.message
    if needle is not None:
        assert needle in error.message
    assert error.hint and "repository" in error.hint


def test_parse_rejects_non_string() -> None:
    with pytest.raises(ImageReferenceError):
        ImageRef.parse(None)  # type: ignore[arg-type]


def test_constructor_validates_parts() -> None:
    with pytest.raises(ImageReferenceError, match="would be read as a registry host"):
        ImageRef(None, "example.com/api")
    with pytest.raises(ImageReferenceError, match="tag"):
        ImageRef(None, "api", tag="a b")
    with pytest.raises(ImageReferenceError, match="digest"):
        ImageRef(None, "api", digest="sha256:xyz")
    with pytest.raises(ImageReferenceError, match="host"):
        ImageRef("bad host", "api")
    assert ImageRef(None, "localhost").name == "localhost"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.25", "docker.io/library/nginx"),
        ("library/nginx", "docker.io/library/nginx"),
        ("docker.io/nginx", "docker.io/library/nginx"),
        ("docker.io/library/nginx", "docker.io/library/nginx"),
        ("index.docker.io/nginx", "docker.io/library/nginx"),
        ("index.docker.io/library/nginx@" + DIGEST, "docker.io/library/nginx"),
        ("acme/api", "docker.io/acme/api"),
        ("Docker.IO/acme/api", "docker.io/acme/api"),
        ("ghcr.io/acme/api:1", "ghcr.io/acme/api"),
        ("ghcr.io/nginx", "ghcr.io/nginx"),
        ("Registry.Example.com:5000/api", "registry.example.com:5000/api"),
        ("localhost:5000/api", "localhost:5000/api"),
    ],
)
def test_canonical_name(text: str, canonical: str) -> None:
    assert ImageRef.parse(text).canonical_name == canonical


def test_name_keeps_the_written_form() -> None:
    ref = ImageRef.parse(f"Registry.Example.com:5000/acme/api:1@{DIGEST}")
    assert ref.name == "Registry.Example.com:5000/acme/api"
    assert ImageRef.parse("nginx:1").name == "nginx"


def test_same_repository_compares_canonical_names() -> None:
    nginx = ImageRef.parse("nginx:1.25")
    assert nginx.same_repository("docker.io/library/nginx:1.24")
    assert nginx.same_repository(ImageRef.parse(f"index.docker.io/nginx@{DIGEST}"))
    assert not nginx.same_repository("ghcr.io/nginx")
    assert not nginx.same_repository("acme/nginx")
    assert ImageRef.parse("acme/api").same_repository("docker.io/acme/api:2")
    assert not ImageRef.parse("acme/api").same_repository("acme/api-worker")
    with pytest.raises(ImageReferenceError):
        nginx.same_repository("NGINX")


def test_with_version_replaces_tag_and_drops_stale_digest() -> None:
    ref = ImageRef.parse(f"ghcr.io/acme/api:1.0@{DIGEST}")
    assert str(ref.with_version("1.1")) == "ghcr.io/acme/api:1.1"
    assert str(ref.with_version("1.1", OTHER_DIGEST)) == f"ghcr.io/acme/api:1.1@{OTHER_DIGEST}"
    assert str(ref.with_version(None, OTHER_DIGEST)) == f"ghcr.io/acme/api@{OTHER_DIGEST}"
    assert str(ref) == f"ghcr.io/acme/api:1.0@{DIGEST}"
    with pytest.raises(ImageReferenceError, match="tag"):
        ref.with_version("bad tag")
    with pytest.raises(ImageReferenceError, match="digest"):
        ref.with_version("1", "sha256:short")


def test_refs_are_hashable_values() -> None:
    assert ImageRef.parse("a/b:1") == ImageRef(None, "a/b", "1")
    assert len({ImageRef.parse("a/b:1"), ImageRef(None, "a/b", "1")}) == 1


@pytest.mark.parametrize("tag", ["1", "latest", "_x", "1.10", "2024-06-27", "A_b.C-d", "a" * 128])
def test_valid_tags(tag: str) -> None:
    assert is_valid_tag(tag)


@pytest.mark.parametrize("tag", ["", "-a", ".a", "a" * 129, "a b", "a/b", "a:b", "a@b", "é"])
def test_invalid_tags(tag: str) -> None:
    assert not is_valid_tag(tag)


def test_digests() -> None:
    assert is_valid_digest(DIGEST)
    assert is_valid_digest("sha512:" + "a" * 128)
    assert is_valid_digest("multihash+base58:" + "a" * 32)
    assert not is_valid_digest("sha512:" + "a" * 64)
    assert not is_valid_digest("sha256" + "a" * 64)
    assert not is_valid_digest("SHA256:" + "a" * 64)
    assert not is_valid_digest("foo:abc")


# --- property: parse(str(ref)) == ref --------------------------------------------------------------
_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_separator = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def _path_component(draw: st.DrawFn) -> str:
    parts = [draw(_alnum)]
    for _ in range(draw(st.integers(0, 2))):
        parts += [draw(_separator), draw(_alnum)]
    return "".join(parts)


_domain_label = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?\Z")
_registry = st.one_of(
    st.just("localhost"),
    st.builds(lambda a, b: f"{a}.{b}", _domain_label, _domain_label),
    st.builds(lambda h, p: f"{h}:{p}", _domain_label, st.integers(1, 65535)),
    st.builds(lambda a, b, p: f"{a}.{b}:{p}", _domain_label, _domain_label, st.integers(1, 65535)),
)
_tag = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9._-]{0,20}\Z")
_digest = st.builds(lambda h: f"sha256:{h}", st.from_regex(r"\A[a-f0-9]{64}\Z"))


@st.composite
def _refs(draw: st.DrawFn) -> ImageRef:
    registry = draw(st.none() | _registry)
    components = draw(st.lists(_path_component(), min_size=1, max_size=4))
    if registry is None and len(components) > 1 and ("." in components[0] or components[0] == "localhost"):
        components[0] = components[0].replace(".", "-") + "x"
    return ImageRef(registry, "/".join(components), draw(st.none() | _tag), draw(st.none() | _digest))


@given(_refs())
def test_round_trip(ref: ImageRef) -> None:
    text = str(ref)
    assert ImageRef.parse(text) == ref
    assert ImageRef.parse(text).canonical_name == ImageRef.parse(ref.name).canonical_name
    assert ref.same_repository(text)


@given(st.text(max_size=40))
def test_parse_never_raises_anything_else(text: str) -> None:
    try:
        ref = ImageRef.parse(text)
    except ImageReferenceError:
        return
    assert ImageRef.parse(str(ref)) == ref


def test_split_pinned_tag() -> None:
    digest = "sha256:" + "a" * 64
    assert split_pinned_tag(f"1.2.3@{digest}") == ("1.2.3", digest)
    assert split_pinned_tag(f"124@{digest}") == ("124", digest)
    for text in (None, "", "1.2.3", f"@{digest}", "1.2.3@sha256:abc", f"-x@{digest}", f"1@2@{digest}"):
        assert split_pinned_tag(text) is None
