from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promoter.errors import KeySyntaxError
from promoter.yamledit.keypath import Selector, format_key, parse_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", ("a",)),
        ("a.b.c", ("a", "b", "c")),
        ("a.b[0].c", ("a", "b", 0, "c")),
        ("a[-1]", ("a", -1)),
        ("list[name=image.tag].value", ("list", Selector("name", "image.tag"), "value")),
        (
            "spec.source.helm.parameters[name=image.tag].value",
            ("spec", "source", "helm", "parameters", Selector("name", "image.tag"), "value"),
        ),
        ('metadata.annotations."example.com/tag"', ("metadata", "annotations", "example.com/tag")),
        ('"a.b"."c[d]"', ("a.b", "c[d]")),
        ('a."say \\"hi\\""', ("a", 'say "hi"')),
        ('a."back\\\\slash"', ("a", "back\\slash")),
        ('l[name="a]b"].v', ("l", Selector("name", "a]b"), "v")),
        ("redis-ha.exporter.image", ("redis-ha", "exporter", "image")),
        ("[0].image", (0, "image")),
        ('""', ("",)),
    ],
)
def test_parse(text: str, expected: tuple) -> None:
    assert parse_key(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty key path"),
        ("a.", "ends with '.'"),
        ("a..b", "empty key"),
        (".a", "empty key"),
        ("a[", "expected"),
        ("a[x]", "index [N] or a selector"),
        ('a."open', "unterminated"),
        ('a."bad\\n"', "escapes"),
        ("a[=v]", "empty field"),
        ('a"b', "quote the whole key"),
        ("a[0]b", "unexpected 'b'"),
    ],
)
def test_parse_errors_point_at_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(KeySyntaxError) as info:
        parse_key(text)
    assert fragment in info.value.message
    assert info.value.exit_code == 3


segments = st.one_of(
    st.text(min_size=0, max_size=12),
    st.integers(min_value=-5, max_value=50),
    st.builds(Selector, st.text(min_size=1, max_size=8), st.text(max_size=8)),
)


@given(st.lists(segments, min_size=1, max_size=6))
def test_format_then_parse_round_trips(path: list) -> None:
    assert parse_key(format_key(tuple(path))) == tuple(path)
