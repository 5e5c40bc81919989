"""Opaque cursors and feedback validation, without a database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.errors import InvalidInput
from wallet.parents import cursors
from wallet.parents.feedback import MAX_COMMENT, validate_feedback
from wallet.parents.notifications import NotificationCursor

# Real cursors hold a date and an id or two; keep generated ones as short (cursors are at most 200 characters).
values = st.lists(st.one_of(st.integers(min_value=0, max_value=2**53), st.text("0123456789-abcXYZ", max_size=10)),
                  max_size=4)


@given(values, st.text(max_size=40))
def test_cursor_round_trip(vals, binding):
    token = cursors.encode("meals", binding, vals)
    assert cursors.decode("meals", binding, token) == vals
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@given(values, st.data())
def test_a_changed_cursor_is_refused_or_means_the_same(vals, data):
    token = cursors.encode("meals", "child|from|to", vals)
    if not token:
        return
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    char = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    changed = token[:at] + char + token[at + 1:]
    try:
        assert cursors.decode("meals", "child|from|to", changed) == vals
    except InvalidInput as exc:
        assert exc.code == "invalid_cursor"


def test_a_cursor_is_bound_to_its_kind_and_binding():
    token = cursors.encode("meals", "a", [1])
    for kind, binding in (("access", "a"), ("meals", "b")):
        with pytest.raises(InvalidInput):
            cursors.decode(kind, binding, token)
    for bad in ("", "A" * 201, "%%%", "e30", None):
        with pytest.raises(InvalidInput):
            cursors.decode("meals", "a", bad)  # type: ignore[arg-type]


def test_notification_cursor_refuses_odd_contents():
    for vals in ([1], [-1, []], [1, [[1]]], [1, [[1, "2"]]], [True, []], [1, [[1, 2]] * 17], [1, {"1": 2}]):
        with pytest.raises(InvalidInput):
            NotificationCursor.decode("p", cursors.encode("notifications", "p", vals))
    ok = NotificationCursor.decode("p", cursors.encode("notifications", "p", [5, [[1, 2], [3, 4]]]))
    assert ok.floor == 5 and ok.seen == {1: 2, 3: 4}


@pytest.mark.parametrize("rating", [0, 6, -1, True, 3.0, "3", None])
def test_ratings_are_whole_numbers_from_1_to_5(rating):
    with pytest.raises(InvalidInput):
        validate_feedback(rating, [], None)


def test_tags_are_deduplicated_in_a_fixed_order_and_comments_trimmed():
    assert validate_feedback(5, ["too_cold", "tasty", "tasty"], "  hi\n there ") == (5, ["tasty", "too_cold"],
                                                                                    "hi\n there")
    assert validate_feedback(1, [], "   ") == (1, [], None)
    assert validate_feedback(1, [], "ж" * MAX_COMMENT)[2] == "ж" * MAX_COMMENT
    for comment in ("x" * (MAX_COMMENT + 1), "a\x00b", "a\x1bb", "a\ud800b", 5):
        with pytest.raises(InvalidInput):
            validate_feedback(3, [], comment)
    with pytest.raises(InvalidInput):
        validate_feedback(3, ["yummy"], None)
