"""Public daily counts: no sign-in, tied to the checkpoint under the national head, small counts suppressed,
JSON and CSV, later entries not counted until the next head."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

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


def test_held_and_withheld_meals_follow_findings_and_rulings(checked, meals, world, session_factory, settings):
    """Five lunches under one finding, two breakfasts under another: 7 held; the breakfasts' finding upheld
    leaves 5 withheld and 2 held (suppressed); the lunches' dismissed leaves none held. The answer names the
    findings and rulings counted, and the same mark gives the same bytes; it names no pupil and no finding."""
    from sqlalchemy import select

    from wallet.evidence.findings import Candidate, record
    from wallet.evidence.holds import current_mark
    from wallet.evidence.rulings import RulingRequest, rule
    from wallet.models import LedgerEntry
    from wallet.months import parse_month
    from wallet.principals import Principal
    from wallet.reconciliation.writers import write
    from wallet.witnessing.open_data import daily_counts

    pupils = world.eligible[:5]
    for pupil in pupils:
        meals.record(pupil)
    for pupil in pupils[:2]:
        meals.record(pupil, meal_type="breakfast")
    _head(session_factory, settings)
    url = f"/api/v1/open/schools/{world.school.bin}/daily-counts?month={world.today:%Y-%m}"
    day = world.today.isoformat()
    held, withheld = (day, "holds", "held"), (day, "holds", "withheld")
    before = _counts(checked.get(url).get_json())
    assert (before[held], before[withheld]) == (0, 0)  # zeros are shown

    now = dt.datetime.now(dt.UTC)
    with session_factory() as session:
        entries = session.execute(select(LedgerEntry.id, LedgerEntry.meal_type).where(
            LedgerEntry.school_id == world.school.id, LedgerEntry.verdict == "billable")).all()
        lunches = tuple(i for i, t in entries if t == "lunch")
        breakfasts = tuple(i for i, t in entries if t == "breakfast")
        assert (len(lunches), len(breakfasts)) == (5, 2)
        found = record(session, [
            Candidate("absent_but_billed", f"lunch-{day}", world.school.region_id, world.school.id, world.today,
                      {"meals": 5}, lunches),
            Candidate("day_later_closed", f"breakfast-{day}", world.school.region_id, world.school.id, world.today,
                      {"meals": 2}, breakfasts)], source="scan", now=now)
        session.commit()
        lunch_finding, breakfast_finding = (f.id for f in found)
        first_mark = current_mark(session)
    body = checked.get(url).get_json()
    counts = _counts(body)
    assert (counts[held], counts[withheld]) == (7, 0)
    assert body["holds"] == first_mark.label
    assert {k: v for k, v in counts.items() if k[1] != "holds"} == {
        k: v for k, v in before.items() if k[1] != "holds"}  # the meals themselves are still counted

    operator = Principal(subject="test", role="operator")
    with session_factory() as session:
        rule(session, operator, [RulingRequest(breakfast_finding, "upheld", "no breakfast that day")], now)
        session.commit()
    counts = _counts(checked.get(url).get_json())
    assert (counts[held], counts[withheld]) == (5, None)  # two withheld: suppressed
    with session_factory() as session:
        rule(session, operator, [RulingRequest(lunch_finding, "dismissed", "the journal was wrong")], now)
        session.commit()
        last_mark = current_mark(session)
    response = checked.get(url)
    body, text = response.get_json(), response.get_data(as_text=True)
    counts = _counts(body)
    assert (counts[held], counts[withheld]) == (0, None)  # the dismissed lunches left held, not into withheld
    assert body["holds"] == last_mark.label != first_mark.label
    rows = list(csv.reader(io.StringIO(checked.get(url + "&format=csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert [day, "holds", "held", "0"] in rows and [day, "holds", "withheld", ""] in rows
    assert ["holds", last_mark.label] in rows

    # Reproducible: the earlier mark gives the earlier figures, to the byte.
    with session_factory() as session:
        again = daily_counts(session, settings.witness_policy, world.school.bin, parse_month(f"{world.today:%Y-%m}"),
                             holds=first_mark)
    assert _counts(json.loads(b"".join(write(again, "json"))))[held] == 7

    # Nothing personal: no pupil, no entry, no finding, no rule, no ruling's reason.
    assert set(body) == {"format", "schoolBin", "month", "suppressedBelow", "schoolCheckpointSize",
                         "schoolCheckpointRoot", "nationalLeafIndex", "nationalLog", "nationalTreeSize",
                         "nationalRootHash", "witnessed", "cosignedBy", "holds", "counts"}
    assert all(set(c) == {"date", "measure", "key", "count"} for c in body["counts"])
    assert {c["measure"] for c in body["counts"]} <= {"meals", "refusals", "entitled", "holds"}
    for secret in [*(str(p.id) for p in pupils), *(p.iin for p in pupils), *(p.last_name for p in pupils),
                   "absent_but_billed", "day_later_closed", f"lunch-{day}", "journal", "findingId", "entryId"]:
        assert secret not in text


def test_held_meals_are_counted_up_to_the_same_checkpoint(checked, meals, world, session_factory, settings):
    """A held meal voided after the head is still held until the next head, which leaves 4: suppressed."""
    from sqlalchemy import select

    from wallet.evidence.findings import Candidate, record
    from wallet.ledger.voids import void_entry
    from wallet.models import LedgerEntry
    from wallet.principals import Principal

    for pupil in world.eligible[:5]:
        meals.record(pupil)
    with session_factory() as session:
        lunches = tuple(session.scalars(select(LedgerEntry.id).where(LedgerEntry.school_id == world.school.id)))
        record(session, [Candidate("absent_but_billed", "all", world.school.region_id, world.school.id, world.today,
                                   {}, lunches)], source="scan", now=dt.datetime.now(dt.UTC))
        session.commit()
    _head(session_factory, settings)
    url = f"/api/v1/open/schools/{world.school.bin}/daily-counts?month={world.today:%Y-%m}"
    held = (world.today.isoformat(), "holds", "held")
    assert _counts(checked.get(url).get_json())[held] == 5
    with session_factory() as session:
        void_entry(session, lunches[0], Principal(subject="test", role="operator"), "scanned the wrong child")
    assert _counts(checked.get(url).get_json())[held] == 5  # the void is after the checkpoint
    _head(session_factory, settings)
    assert _counts(checked.get(url).get_json())[held] is None
