"""Canonical bytes: RFC 8785 examples, and the refusals that keep hashed data unambiguous."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.ledger.canonical import MAX_SAFE_INTEGER, NotCanonicalError, canonical_bytes


def test_keys_sorted_and_whitespace_removed():
    assert canonical_bytes({"b": 1, "a": [True, None, False, -5], "c": {}}) == (
        b'{"a":[true,null,false,-5],"b":1,"c":{}}'
    )


def test_rfc8785_string_escaping_example():
    # RFC 8785 section 3.2.2 example's "string" and "literals" members (its "numbers" are floats, refused).
    value = {"string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/", "literals": [None, True, False]}
    expected = '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    assert canonical_bytes(value) == expected.encode("utf-8")


def test_rfc8785_key_sorting_example_orders_by_utf16_code_units():
    # RFC 8785 section 3.2.3: the emoji (surrogates D83D DE00) sorts before U+FB33, unlike code point order.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    ordered = json.loads(canonical_bytes(value), object_pairs_hook=lambda pairs: [v for _, v in pairs])
    assert ordered == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


def test_non_ascii_is_raw_utf8_not_escaped():
    assert canonical_bytes({"name": "Әлия ✓"}) == '{"name":"Әлия ✓"}'.encode()


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (1.5, "$"),
        (1.0, "$"),
        (float("nan"), "$"),
        ({"a": [1, {"price": 0.1}]}, "$.a[1].price"),
        ({"meal type": [2.0]}, '$["meal type"][0]'),
    ],
)
def test_floats_refused_with_path(value, path):
    with pytest.raises(NotCanonicalError) as caught:
        canonical_bytes(value)
    assert caught.value.path == path
    assert path in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({1: "x"}, "$"),
        ({"a": (1, 2)}, "$.a"),
        ({"a": b"bytes"}, "$.a"),
        ([MAX_SAFE_INTEGER + 1], "$[0]"),
        ([-MAX_SAFE_INTEGER - 1], "$[0]"),
        ({"s": "\ud800"}, "$.s"),
    ],
)
def test_non_plain_json_refused_with_path(value, path):
    with pytest.raises(NotCanonicalError) as caught:
        canonical_bytes(value)
    assert caught.value.path == path


def test_safe_integer_bounds_accepted():
    assert canonical_bytes([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(json_values)
def test_canonical_bytes_round_trip_and_are_stable(value):
    encoded = canonical_bytes(value)
    decoded = json.loads(encoded)
    assert decoded == value
    assert canonical_bytes(decoded) == encoded
