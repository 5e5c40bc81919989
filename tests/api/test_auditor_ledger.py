import pytest
from sqlalchemy import text

from api.auth import dev_idp
from tests.factories import batch, meal_event
from wallet.keys import load_signing_key
from wallet.ledger.checkpoints import make_checkpoint


def _staff(settings, **claims):
    return {"Authorization": f"Bearer {dev_idp.issue_token(settings, 'staff-1', claims)}"}


@pytest.fixture
def recorded(checked, world, terminal_key):
    events = [meal_event(s, n + 1) for n, s in enumerate(world.eligible)]
    response = checked.post("/api/v1/terminal/events", json=batch(*events), headers=terminal_key.headers())
    assert response.status_code == 200
    return world


def test_an_auditor_of_the_region_verifies_a_clean_chain(checked, settings, recorded, session_factory):
    with session_factory() as session:
        make_checkpoint(session, recorded.school.id, load_signing_key(settings))
        session.commit()
    response = checked.get(f"/api/v1/auditor/ledger/verify?school={recorded.school.bin}",
                           headers=_staff(settings, role="auditor", region=recorded.region.code))
    body = response.get_json()
    assert response.status_code == 200 and body["ok"] is True
    assert body["size"] == len(recorded.eligible) and body["checkpointsChecked"] == 1
    listed = checked.get(f"/api/v1/auditor/ledger/checkpoints?school={recorded.school.bin}",
                         headers=_staff(settings, role="operator")).get_json()["items"]
    assert listed[0]["treeSize"] == len(recorded.eligible) and listed[0]["rootHash"] == body["rootHash"]


def test_a_tampered_entry_is_named(checked, settings, recorded, engine):
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER USER"))
            conn.execute(text("UPDATE ledger_entries SET price_tiyn = price_tiyn * 2 WHERE position = 2"))
            conn.execute(text("ALTER TABLE ledger_entries ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER ledger_entries_no_update"))
            conn.execute(text("UPDATE ledger_entries SET price_tiyn = price_tiyn * 2 WHERE position = 2"))
    body = checked.get(f"/api/v1/auditor/ledger/verify?school={recorded.school.bin}",
                       headers=_staff(settings, role="operator")).get_json()
    assert body["ok"] is False and body["problems"][0]["position"] == 2


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"role": "auditor", "region": "KZ-19"}, 404),  # another region: the school does not exist for them
        ({"role": "school_admin", "school": "990340000024"}, 404),  # a valid BIN of no school
        ({"role": "parent"}, 403),
    ],
)
def test_schools_outside_the_scope_are_not_found(checked, settings, recorded, claims, status):
    response = checked.get(f"/api/v1/auditor/ledger/verify?school={recorded.school.bin}",
                           headers=_staff(settings, **claims))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_bad_inputs(checked, settings, recorded, terminal_key):
    operator = _staff(settings, role="operator")
    assert checked.get("/api/v1/auditor/ledger/verify", headers=operator).status_code == 422
    assert checked.get("/api/v1/auditor/ledger/verify?school=12ab", headers=operator).status_code == 422
    assert checked.get("/api/v1/auditor/ledger/verify?school=000000000000", headers=operator).status_code == 404
    assert checked.get(f"/api/v1/auditor/ledger/verify?school={recorded.school.bin}").status_code == 401
    assert checked.get(f"/api/v1/auditor/ledger/verify?school={recorded.school.bin}",
                       headers=terminal_key.headers()).status_code == 401


# --- verification runs --------------------------------------------------------------------------------

RUNS = "/api/v1/auditor/ledger/verifications"


def _national_run(settings, session_factory) -> int:
    """A run over every school, as `wallet verify` records it."""
    from wallet.keys import public_keys_of
    from wallet.ledger.runs import RunTally, record_run
    from wallet.ledger.verify import iter_verify

    tally = RunTally(via="cli", actor="cli", school_bin=None)
    for report in iter_verify(session_factory, public_keys_of(load_signing_key(settings))):
        tally.add(report)
    return record_run(session_factory, tally)


def _tamper_price(engine, position: int) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER USER"))
            conn.execute(text("UPDATE ledger_entries SET price_tiyn = price_tiyn * 2 WHERE position = :p"),
                         {"p": position})
            conn.execute(text("ALTER TABLE ledger_entries ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_entries_no_update"))
            conn.execute(text("UPDATE ledger_entries SET price_tiyn = price_tiyn * 2 WHERE position = :p"),
                         {"p": position})


def test_the_verify_endpoint_records_its_run(checked, settings, recorded, engine, session_factory):
    operator = _staff(settings, role="operator")
    clean = checked.get(f"/api/v1/auditor/ledger/verify?school={recorded.school.bin}", headers=operator).get_json()
    assert clean["ok"] is True and isinstance(clean["runId"], int)
    _tamper_price(engine, 2)
    bad = checked.get(f"/api/v1/auditor/ledger/verify?school={recorded.school.bin}", headers=operator).get_json()
    assert bad["ok"] is False and bad["runId"] > clean["runId"]
    with session_factory() as session:
        entry_id = session.scalar(text("SELECT id FROM ledger_entries WHERE school_id = :s AND position = 2"),
                                  {"s": recorded.school.id})
    items = checked.get(RUNS, headers=operator).get_json()["items"]
    assert [run["id"] for run in items] == [bad["runId"], clean["runId"]]
    newest, oldest = items
    assert (oldest["via"], oldest["actor"], oldest["schoolBin"], oldest["result"], oldest["firstProblem"]) == (
        "api", "operator:staff-1", recorded.school.bin, "ok", None)
    assert (oldest["chainsChecked"], oldest["entriesChecked"]) == (1, len(recorded.eligible))
    assert newest["result"] == "mismatch" and newest["chainsFailed"] == 1
    problem = newest["firstProblem"]
    assert (problem["hidden"], problem["schoolBin"], problem["kind"], problem["position"], problem["entryId"]) == (
        False, recorded.school.bin, "entry", 2, entry_id)
    assert "priceTiyn" in problem["message"]


def test_runs_are_listed_in_the_callers_scope(checked, settings, recorded, engine, session_factory):
    school_run = checked.get(f"/api/v1/auditor/ledger/verify?school={recorded.school.bin}",
                             headers=_staff(settings, role="operator")).get_json()["runId"]
    _tamper_price(engine, 1)
    national = _national_run(settings, session_factory)

    region = checked.get(RUNS, headers=_staff(settings, role="auditor", region=recorded.region.code)).get_json()
    assert [run["id"] for run in region["items"]] == [national, school_run]
    assert region["items"][0]["schoolBin"] is None and region["items"][0]["firstProblem"]["position"] == 1
    same = checked.get(f"{RUNS}?school={recorded.school.bin}",
                       headers=_staff(settings, role="auditor", region=recorded.region.code)).get_json()
    assert [run["id"] for run in same["items"]] == [national, school_run]

    # Another region: only the national run, and where it failed is not theirs to see.
    elsewhere = checked.get(RUNS, headers=_staff(settings, role="auditor", region="KZ-19")).get_json()
    assert [run["id"] for run in elsewhere["items"]] == [national]
    assert elsewhere["items"][0]["result"] == "mismatch" and elsewhere["items"][0]["firstProblem"] == {"hidden": True}


def test_runs_are_paged_by_cursor(checked, settings, recorded, session_factory):
    ids = [_national_run(settings, session_factory) for _ in range(3)]
    operator = _staff(settings, role="operator")
    first = checked.get(f"{RUNS}?limit=2", headers=operator).get_json()
    assert [run["id"] for run in first["items"]] == [ids[2], ids[1]] and first["nextCursor"]
    second = checked.get(f"{RUNS}?limit=2&cursor={first['nextCursor']}", headers=operator).get_json()
    assert [run["id"] for run in second["items"]] == [ids[0]] and second["nextCursor"] is None
    # A cursor is bound to its listing: not valid for another school filter or another caller.
    other = checked.get(f"{RUNS}?limit=2&school={recorded.school.bin}&cursor={first['nextCursor']}", headers=operator)
    assert other.status_code == 422 and other.get_json()["code"] == "invalid_cursor"
    auditor = _staff(settings, role="auditor", region=recorded.region.code)
    auditor = checked.get(f"{RUNS}?cursor={first['nextCursor']}", headers=auditor)
    assert auditor.status_code == 422


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=ten", "cursor=%21%21not-a-cursor",
                                   "cursor=" + "A" * 201, "school=12ab", "cursor=W10"])
def test_bad_run_list_inputs(checked, settings, recorded, query):
    response = checked.get(f"{RUNS}?{query}", headers=_staff(settings, role="operator"))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"role": "auditor", "region": "KZ-19"}, 404),
        ({"role": "operator"}, 200),
        ({"role": "school_admin", "school": "SELF"}, 403),  # runs are for auditors and operators
        ({"role": "supplier", "supplier": "000000000000"}, 403),
        ({"role": "parent"}, 403),
    ],
)
def test_run_list_scope_and_roles(checked, settings, recorded, claims, status):
    claims = {k: (recorded.school.bin if v == "SELF" else v) for k, v in claims.items()}
    response = checked.get(f"{RUNS}?school={recorded.school.bin}", headers=_staff(settings, **claims))
    assert response.status_code == status
    assert checked.get(f"{RUNS}?school=000000000000", headers=_staff(settings, role="operator")).status_code == 404
    assert checked.get(RUNS).status_code == 401
