"""Public daily counts: no sign-in, tied to the checkpoint under the national head, small counts suppressed,
JSON and CSV, later entries not counted until the next head."""

from __future__ import annotations

import csv
import io

from tests.parent_factories import assert_problem, meals_fixture, parent_fixture  # noqa: F401
from wallet.db import transaction
from wallet.keys import load_signing_key
from wallet.ledger.checkpoints import make_checkpoints
from wallet.witnessing.national import extend_national_log


def _head(session_factory, settings) -> None:  # type: ignore[no-untyped-def]
    key = load_signing_key(settings)
    make_checkpoints(session_factory, key)
    with transaction(session_factory) as session:
        extend_national_log(session, key, settings.witness_policy.log_origin)


def _counts(body):  # type: ignore[no-untyped-def]
    return {(c["date"], c["measure"], c["key"]): c["count"] for c in body["counts"]}


def test_counts_are_public_suppressed_and_tied_to_the_head(checked, meals, world, session_factory, settings):
    url = f"/api/v1/open/schools/{world.school.bin}/daily-counts?month={world.today:%Y-%m}"
    assert_problem(checked.get(url), 409, "no_witnessed_checkpoint")
    pupils = world.eligible[:5]
    for pupil in pupils:
        meals.record(pupil)  # five lunches: shown
    meals.record(pupils[0], meal_type="breakfast")  # one breakfast: suppressed
    _head(session_factory, settings)
    response = checked.get(url)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    day = world.today.isoformat()
    counts = _counts(body)
    assert counts[(day, "meals", "lunch")] == 5
    assert counts[(day, "meals", "breakfast")] is None  # 1 < 5
    assert body["suppressedBelow"] == 5 and body["witnessed"] is False
    assert body["schoolCheckpointSize"] == 6 and body["nationalTreeSize"] >= 1
    assert counts[(day, "entitled", "pupils")] == len(world.eligible)
    # A later meal (a refusal: a second lunch) is not counted until the next head.
    meals.record(pupils[1])
    later = _counts(checked.get(url).get_json())
    assert later == counts
    _head(session_factory, settings)
    assert _counts(checked.get(url).get_json()) != counts
    rows = list(csv.reader(io.StringIO(checked.get(url + "&format=csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert any(row[:4] == [day, "meals", "breakfast", ""] for row in rows)
    assert any(row[:4] == [day, "meals", "lunch", "5"] for row in rows)


def test_bad_input_is_a_problem(checked, world):
    assert_problem(checked.get("/api/v1/open/schools/12/daily-counts?month=2026-11"), 422, "validation_failed")
    assert_problem(checked.get("/api/v1/open/schools/999999999999/daily-counts?month=2026-11"), 404,
                   "school_not_found")
    assert checked.get(f"/api/v1/open/schools/{world.school.bin}/daily-counts").status_code in (400, 422)


def test_the_national_checkpoint_is_a_c2sp_note_that_verifies(checked, meals, world, session_factory, settings):
    from tlog import note
    from tlog.checkpoint import parse_checkpoint
    from wallet.witnessing.national import log_vkey

    assert_problem(checked.get("/api/v1/open/checkpoint"), 404, "no_checkpoint")
    meals.record(world.eligible[0])
    _head(session_factory, settings)
    response = checked.get("/api/v1/open/checkpoint")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    origin = settings.witness_policy.log_origin
    text, _ = note.verify(response.text, [note.parse_vkey(log_vkey(origin, load_signing_key(settings)))])
    checkpoint = parse_checkpoint(text)
    assert (checkpoint.origin, checkpoint.size) == (origin, 1)


def test_a_school_checkpoint_is_a_c2sp_note_and_the_national_leaf(checked, meals, world, session_factory, settings):
    from tlog import note
    from wallet.ledger.merkle import leaf_hash
    from wallet.models import NationalLogLeaf
    from wallet.witnessing.national import log_vkey, school_origin

    url = f"/api/v1/open/schools/{world.school.bin}/checkpoint"
    assert_problem(checked.get(url), 404, "no_checkpoint")
    meals.record(world.eligible[0])
    meals.record(world.eligible[1])
    _head(session_factory, settings)
    response = checked.get(url)
    assert response.status_code == 200
    origin = school_origin(settings.witness_policy.log_origin, world.school.bin)
    text, _ = note.verify(response.text, [note.parse_vkey(log_vkey(origin, load_signing_key(settings)))])
    assert text.split("\n")[:2] == [origin, "2"]
    with session_factory() as session:
        leaves = [bytes(h) for (h,) in session.query(NationalLogLeaf.leaf_hash)]
    assert leaf_hash(text.encode()) in leaves
