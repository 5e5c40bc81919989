"""An entry's canonical payload rebuilt from its columns by PostgreSQL, for `wallet verify`'s fast path.

`wallet verify` must catch a column that no longer says what the hashed payload says (reports read the
columns). Rebuilding the payload in Python costs ten times the hashing; this expression has the server
rebuild it, byte for byte as `entry_payload` + `flat_canonical_bytes` do, while it streams the rows, and
the verifier compares. Each value is written as Python writes it: JSON strings with to_json (PostgreSQL
escapes text exactly as `json.dumps(ensure_ascii=False)` does), integers in decimal, UUIDs in their one
text form, timestamps as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, dates as `YYYY-MM-DD`, NULL as null. A
time or date outside the years 1-9999 (where to_char would drop the era) flags the row instead.

A payload without a backslash holds no escaped character, so its strings are the texts between their
quotes, and the cheaper rebuild (quotes around the raw text, no to_json) gives the same bytes for every
payload append writes. (It could also match a column holding a raw quote against a payload that is not
canonical JSON; such a payload was rewritten with its hashes, which the leaf and chain hashes or, for a
rewrite of every later hash and the head, the signed checkpoints expose, as they do any rewrite.)

A flagged row is checked again in Python, which names what differs. The hashes themselves are always
recomputed by the verifier from the bytes it receives, never by the server.
"""

from __future__ import annotations

# The field lists of entry_payload itself (private to append.py, which this branch leaves alone: the ingest
# path), so the rebuild can never list other fields than the hash.
from wallet.ledger.append import _HASHED_FIELDS as HASHED_FIELDS
from wallet.ledger.append import _OPTIONAL_HASHED_FIELDS as OPTIONAL_HASHED_FIELDS
from wallet.ledger.append import ENTRY_FORMAT
from wallet.models import LedgerEntry

__all__ = ["SAME_AS_COLUMNS"]

_INTEGERS = ("school_id", "position", "device_seq", "contract_id", "price_tiyn", "refers_to")
_UUIDS = ("event_id", "voucher_id", "qr_token_id")
_TIMES = ("served_at", "received_at")
_DATES = ("serving_day",)
# Everything else is text (kind, terminal_id, student_ref, meal_type, method, billing_month, verdict,
# reasons, category_code, actor, note).
_TEXTS = tuple(c for c, _ in HASHED_FIELDS if c not in _INTEGERS + _UUIDS + _TIMES + _DATES)
_OPTIONAL = dict(OPTIONAL_HASHED_FIELDS)
_ENTRIES = LedgerEntry.__table__


def _in_domain() -> str:
    """Times and dates in years 1-9999, where to_char's text is one-to-one (it writes no era). Integers
    need no test: their text is one-to-one, and a stored payload never holds one outside I-JSON's range."""
    checks = [f"({c} IS NULL OR ({c} AT TIME ZONE 'UTC' >= '0001-01-01' AND {c} AT TIME ZONE 'UTC' < '10000-01-01'))"
               for c in _TIMES]
    checks += [f"({c} IS NULL OR ({c} >= '0001-01-01' AND {c} < '10000-01-01'))" for c in _DATES]
    return " AND ".join(checks)


def _value(column: str, *, plain_text: bool) -> list[str]:
    """The JSON text of one column's value: literals (in quotes) and SQL expressions, to be chained.

    A NULL in a column the table declares NOT NULL is left to make the whole chain NULL: the row is then
    flagged (and Python names it); so those values need no coalesce, and their quotes join the literals."""
    if column in _INTEGERS:
        value, quoted = f"{column}::text", False
    elif column in _UUIDS:
        value, quoted = f"{column}::text", True
    elif column in _TIMES:
        value, quoted = f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", True
    elif column in _DATES:
        value, quoted = f"to_char({column}, 'YYYY-MM-DD')", True
    elif plain_text:
        value, quoted = column, True
    else:
        value, quoted = f"to_json({column})::text", False
    if _ENTRIES.c[column].nullable:
        text = f"'\"' || {value} || '\"'" if quoted else value
        return [f"coalesce({text}, 'null')"]
    return ["'\"'", value, "'\"'"] if quoted else [value]


def _members(*, plain_text: bool) -> str:
    """The canonical JSON object, keys in RFC 8785 order (ASCII keys: Python's sort order), as one chain
    of `||` (measured cheaper than concat() or array_to_string), adjacent literals joined."""
    members = [("format", None), *((key, column) for column, key in HASHED_FIELDS),
               *((key, column) for column, key in OPTIONAL_HASHED_FIELDS)]
    tokens: list[str] = []
    for n, (key, column) in enumerate(sorted(members)):
        name = f"'{',' if n else '{'}\"{key}\":'"
        if column is None:
            tokens += [name, f"'\"{ENTRY_FORMAT}\"'"]
        elif key in _OPTIONAL.values():  # only when set
            tokens.append(f"CASE WHEN {column} IS NOT NULL THEN {name[:-1]}\"' || {column}::text || '\"' ELSE '' END")
        else:
            tokens += [name, *_value(column, plain_text=plain_text)]
    tokens.append("'}'")
    merged: list[str] = []
    for token in tokens:
        if merged and _is_literal(token) and _is_literal(merged[-1]):
            merged[-1] = merged[-1][:-1] + token[1:]
        else:
            merged.append(token)
    return "(" + " || ".join(merged) + ")"


def _is_literal(token: str) -> bool:
    return token.startswith("'") and token.endswith("'") and "'" not in token[1:-1]


# A payload without a backslash: the cheaper rebuild (see above).
_PLAIN = "strpos(payload, '\\') = 0"

# A boolean per row: the stored payload is exactly what the columns give, and student_id (not hashed,
# derived on append from the hashed studentRef) names the same child. False or NULL: check in Python.
SAME_AS_COLUMNS = (
    f"coalesce({_in_domain()} "
    f"AND payload = CASE WHEN {_PLAIN} THEN {_members(plain_text=True)} ELSE {_members(plain_text=False)} END "
    "AND (student_id IS NULL OR student_id::text = student_ref OR student_id::text = lower(student_ref)), false)"
)
