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
        ({"role": "school_admin", "school": "000000000000"}, 404),
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
