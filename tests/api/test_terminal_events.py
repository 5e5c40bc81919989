import datetime as dt

from tests.factories import batch, meal_event


def test_a_batch_is_recorded_and_a_replay_returns_the_same_results(checked, world, terminal_key):
    body = batch(meal_event(world.eligible[0], 1), meal_event(world.not_eligible, 2))
    first = checked.post("/api/v1/terminal/events", json=body, headers=terminal_key.headers())
    assert first.status_code == 200, first.get_json()
    results = first.get_json()["results"]
    assert [r["status"] for r in results] == ["recorded", "recorded"]
    assert results[0]["verdict"] == "billable" and "priceTiyn" not in results[0]
    assert results[1]["verdict"] == "not_billable" and results[1]["reasons"] == ["not_eligible"]
    assert [r["position"] for r in results] == [1, 2]
    again = checked.post("/api/v1/terminal/events", json=body, headers=terminal_key.headers())
    replayed = again.get_json()["results"]
    assert [r["status"] for r in replayed] == ["replayed", "replayed"]
    for a, b in zip(results, replayed, strict=True):
        assert {k: v for k, v in a.items() if k != "status"} == {k: v for k, v in b.items() if k != "status"}


def test_one_bad_event_does_not_sink_the_batch(checked, world, terminal_key):
    good = meal_event(world.eligible[0], 1)
    bad = {**meal_event(world.eligible[1], 2), "mealType": "dinner", "verdict": "billable"}
    response = checked.post("/api/v1/terminal/events", json=batch(good, bad), headers=terminal_key.headers())
    results = response.get_json()["results"]
    assert results[0]["status"] == "recorded"
    assert results[1]["status"] == "invalid"
    assert {e["field"] for e in results[1]["errors"]} == {"events/1/mealType", "events/1/verdict"}


def test_second_meal_of_a_type_on_a_day_is_not_billable(checked, world, terminal_key):
    student = world.eligible[0]
    response = checked.post("/api/v1/terminal/events", headers=terminal_key.headers(), json=batch(
        meal_event(student, 1), meal_event(student, 2), meal_event(student, 3, meal_type="breakfast")))
    results = response.get_json()["results"]
    assert [r["verdict"] for r in results] == ["billable", "not_billable", "billable"]
    assert results[1]["reasons"] == ["duplicate_meal"]


def test_same_event_id_with_other_content_is_a_conflict(checked, world, terminal_key):
    event = meal_event(world.eligible[0], 1)
    checked.post("/api/v1/terminal/events", json=batch(event), headers=terminal_key.headers())
    changed = {**event, "mealType": "snack"}
    response = checked.post("/api/v1/terminal/events", json=batch(changed), headers=terminal_key.headers())
    result = response.get_json()["results"][0]
    assert result["status"] == "conflict" and result["code"] == "event_id_reused"


def test_reused_device_seq_is_a_conflict(checked, world, terminal_key):
    checked.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 1)),
                 headers=terminal_key.headers())
    response = checked.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[1], 1)),
                            headers=terminal_key.headers())
    assert response.get_json()["results"][0]["code"] == "device_seq_reused"


def test_refused_attempts_carry_their_reasons(checked, world, terminal_key):
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    events = [
        meal_event("not-a-student", 1),
        meal_event(world.elsewhere, 2),
        meal_event(world.eligible[0], 3, served_at=yesterday),
    ]
    response = checked.post("/api/v1/terminal/events", json=batch(*events), headers=terminal_key.headers())
    reasons = [r["reasons"] for r in response.get_json()["results"]]
    assert reasons[0] == ["unknown_student"]
    assert reasons[1] == ["not_enrolled"]
    assert "not_serving_day" in reasons[2]


def test_device_clock_far_from_the_server_is_out_of_bounds(checked, world, terminal_key):
    skewed = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    response = checked.post("/api/v1/terminal/events", headers=terminal_key.headers(),
                            json=batch(meal_event(world.eligible[0], 1, served_at=skewed), sent_at=skewed))
    result = response.get_json()["results"][0]
    assert result["verdict"] == "not_billable" and "device_clock_out_of_bounds" in result["reasons"]


def test_results_do_not_tell_canteen_staff_a_childs_category(checked, world, terminal_key, session_factory):
    """Two pupils eligible on grounds priced differently: their results differ in ids and hashes only."""
    from sqlalchemy import select

    from wallet.models import Contract, ContractPrice, StudentEligibility

    orphan = world.eligible[1]
    with session_factory() as session:
        contract = session.get(Contract, world.contract.id)
        contract.prices.append(ContractPrice(meal_type="lunch", category_code="orphan", price_tiyn=99000))
        for row in session.scalars(select(StudentEligibility).where(StudentEligibility.student_id == orphan.id)):
            row.category_code = "orphan"
        session.commit()
    body = batch(meal_event(world.eligible[0], 1), meal_event(orphan, 2))
    response = checked.post("/api/v1/terminal/events", json=body, headers=terminal_key.headers())
    first, second = response.get_json()["results"]
    same = {"index", "eventId", "entryId", "position", "leafHash"}
    assert {k: v for k, v in first.items() if k not in same} == {k: v for k, v in second.items() if k not in same}
    assert first["verdict"] == "billable" and "99000" not in response.get_data(as_text=True)
    assert "orphan" not in response.get_data(as_text=True)
