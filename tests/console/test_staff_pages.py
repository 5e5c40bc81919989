"""The school view, the live numbers, the reconciliation with its drill-down and exports, entries and proofs,
and the ledger: every page for the roles that may see it, and the API's scope rules (404 outside scope)."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from tests.console.conftest import csrf_of
from wallet.models import Terminal


def test_school_view_shows_today_live_calendar_and_menu(console, meals, world):
    meals(world.eligible[0], world.eligible[1])
    meals(world.not_eligible)
    console.sign_in("school_admin")
    page = console.get(f"/console/schools/{world.school.bin}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="live-total" aria-live="polite">2</output>' in html
    assert 'data-meal="lunch"' in html and "T-test-1" in html
    assert "not eligible" in html or "нет права" in html
    assert world.today.isoformat() in html and ("Плов" in html or "Pilaf" in html)
    assert "/console/static/live.js" in html


def test_calendar_has_weekday_headers_number_headers_align_and_pages_carry_a_favicon(console, world):
    """The week starts on Monday in the grid and its header says so, in the page's language; a numeric
    column's header is aligned with its numbers (class "num"); every page links the console's favicon."""
    console.sign_in("school_admin")
    html = console.get(f"/console/schools/{world.school.bin}", headers={"Accept-Language": "ru"}).get_data(
        as_text=True)
    headers = html[html.index('class="calendar weekdays"'):]
    headers = headers[:headers.index("</ol>")]
    assert [h in headers for h in ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")] == [True] * 7
    assert headers.index("Пн") < headers.index("Вс")
    assert '<th scope="col" class="num">' in html
    icon = console.get("/console/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    assert 'rel="icon"' in html and "favicon.svg" in html


def test_live_numbers_change_as_meals_are_recorded(console, meals, world):
    console.sign_in("auditor")
    url = f"/console/schools/{world.school.bin}/live.json"
    before = console.get(url).get_json()
    assert before["served"] == 0 and before["day"] == world.today.isoformat()
    meals(world.eligible[0])
    meals(world.eligible[0])  # a second lunch: refused
    after = console.get(url).get_json()
    lunch = next(m for m in after["meals"] if m["mealType"] == "lunch")
    assert after["served"] == 1 and lunch["served"] == 1 and lunch["entitled"] == len(world.eligible)
    assert after["refusedAttempts"] == 1 and after["refused"][0]["reason"] == "duplicate_meal"
    [terminal] = after["terminals"]
    assert terminal["id"] == "T-test-1" and terminal["online"] is True and terminal["missing"] == 0


def test_terminal_sequence_gaps_and_offline_terminals_are_shown(console, app, terminal_key, world, session_factory):
    from tests.factories import batch, meal_event

    api = app.test_client()
    api.post("/api/v1/terminal/events", json=batch(meal_event(world.eligible[0], 1), meal_event(world.eligible[1], 5)),
             headers=terminal_key.headers())
    with session_factory() as session:
        session.add(Terminal(id="T-quiet", school_id=world.school.id, public_key="A" * 43, status="active",
                             created_at=world.school_created if hasattr(world, "school_created") else
                             __import__("datetime").datetime.now(__import__("datetime").UTC)))
        session.commit()
    console.sign_in("school_admin")
    live = console.get(f"/console/schools/{world.school.bin}/live.json").get_json()
    states = {t["id"]: t for t in live["terminals"]}
    assert states["T-test-1"]["missing"] == 3 and states["T-quiet"]["online"] is False


@pytest.mark.parametrize("who,status", [("school_admin", 200), ("school_admin_b", 404), ("auditor", 200),
                                        ("auditor_elsewhere", 404), ("operator", 200), ("supplier", 200)])
def test_school_pages_follow_the_api_scope(console, world, who, status):
    console.sign_in(who)
    for path in (f"/console/schools/{world.school.bin}", f"/console/schools/{world.school.bin}/live.json",
                 f"/console/schools/{world.school.bin}/days/{world.today.isoformat()}"):
        response = console.get(path)
        assert response.status_code == status, (who, path)
        if status == 404:
            assert "text/html" in response.content_type and world.school.name_ru not in response.get_data(as_text=True)


def test_bad_path_and_query_values_are_friendly_pages(console, world):
    console.sign_in("operator")
    for path, status in [("/console/schools/12345", 404), ("/console/schools/999999999999", 404),
                         (f"/console/schools/{world.school.bin}?day=2026-13-45", 400),
                         (f"/console/schools/{world.school.bin}/days/yesterday", 400),
                         ("/console/reconciliation?month=2026-13", 400), ("/console/reconciliation?month=3000-01", 400),
                         ("/console/reconciliation?region=KZ-71&school=" + world.school.bin, 400),
                         ("/console/reconciliation?region=%3Cscript%3E", 400),
                         ("/console/reconciliation?region=KZ-99", 404),
                         ("/console/reconciliation/export?format=pdf", 400),
                         ("/console/entries/99999999", 404), ("/console/entries/99999999999999999999", 404),
                         ("/console/no-such-page", 404)]:
        response = console.get(path)
        assert response.status_code == status, path
        text = response.get_data(as_text=True)
        assert "text/html" in response.content_type and "Traceback" not in text and "<script>" not in text


def test_reconciliation_has_totals_charts_and_drill_down(console, meals, world):
    meals(world.eligible[0], world.eligible[1])
    console.sign_in("auditor")
    month = world.today.strftime("%Y-%m")
    page = console.get(f"/console/reconciliation?month={month}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<svg class="chart"' in html and 'id="total-meals">2<' in html
    assert f"/console/reconciliation?month={month}&amp;school={world.school.bin}" in html
    school = console.get(f"/console/reconciliation?month={month}&school={world.school.bin}").get_data(as_text=True)
    day_link = f"/console/schools/{world.school.bin}/days/{world.today.isoformat()}"
    assert day_link in school
    day = console.get(day_link).get_data(as_text=True)
    assert "/console/entries/" in day and "******" in day  # children by masked IIN
    assert world.eligible[0].iin not in day and world.eligible[0].last_name not in day


def test_region_level_for_an_operator(console, meals, world):
    console.sign_in("operator")
    html = console.get(f"/console/reconciliation?region={world.region.code}").get_data(as_text=True)
    assert world.school.bin in html


@pytest.mark.parametrize("what", ["reconciliation", "entries"])
def test_each_export_downloads(console, meals, world, what, database_url):
    meals(world.eligible[0])
    console.sign_in("school_admin")
    month = world.today.strftime("%Y-%m")
    for fmt, check in (("csv", _csv), ("json", json.loads), ("xlsx", _xlsx)):
        response = console.get(f"/console/reconciliation/export?month={month}&format={fmt}&what={what}")
        assert response.status_code == 200, (fmt, response.get_data(as_text=True)[:300])
        assert "attachment" in response.headers["Content-Disposition"]
        assert f".{fmt}" in response.headers["Content-Disposition"]
        check(response.data)


def _csv(data: bytes) -> None:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) > 3


def _xlsx(data: bytes) -> None:
    assert "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_exports_outside_scope_are_404(console, world):
    console.sign_in("auditor_elsewhere")
    response = console.get(f"/console/reconciliation/export?format=csv&school={world.school.bin}")
    assert response.status_code == 404


def test_an_entry_proof_verifies(console, meals, world):
    [entry_id] = meals(world.eligible[0])
    console.sign_in("auditor")
    page = console.get(f"/console/entries/{entry_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "verify" in html
    result = console.client.post(f"/console/entries/{entry_id}/verify", data={"csrf_token": csrf_of(html)})
    text = result.get_data(as_text=True)
    assert result.status_code == 200 and 'class="result ok"' in text and "wallet-inclusion-proof/v1" in text
    proof = console.get(f"/console/entries/{entry_id}/proof.json")
    assert proof.status_code == 200 and proof.get_json()["entryId"] == entry_id


def test_entries_outside_scope_are_404_and_verify_needs_csrf(console, meals, world):
    [entry_id] = meals(world.eligible[0])
    console.sign_in("school_admin_b")
    assert console.get(f"/console/entries/{entry_id}").status_code == 404
    assert console.post(f"/console/entries/{entry_id}/verify", {}, page="/console/ledger").status_code == 404
    assert console.get(f"/console/entries/{entry_id}/proof.json").status_code == 404
    console.sign_in("operator")
    assert console.client.post(f"/console/entries/{entry_id}/verify", data={}).status_code == 400


def test_ledger_shows_checkpoints_and_runs_a_verification(console, meals, world, settings, session_factory):
    from wallet.keys import load_signing_key
    from wallet.ledger.checkpoints import make_checkpoint

    meals(world.eligible[0])
    with session_factory() as session:
        make_checkpoint(session, world.school.id, load_signing_key(settings), reason="periodic")
        session.commit()
    console.sign_in("auditor")
    html = console.get("/console/ledger").get_data(as_text=True)
    assert f'id="school-{world.school.bin}"' in html and "pill ok" in html
    response = console.post("/console/ledger/verify", {"school": world.school.bin}, page="/console/ledger")
    assert response.status_code == 303
    after = console.get(response.headers["Location"]).get_data(as_text=True)
    assert "class=\"highlight\"" in after and ("OK" in after)
    # The button's run is a recorded verification run, shown with who ran it.
    assert 'id="runs"' in after and "auditor:aud-1" in after and "console" in after
    with session_factory() as session:
        from wallet.models import VerificationRun

        [run] = session.query(VerificationRun).all()
        assert (run.via, run.actor, run.result, run.school_id) == ("console", "auditor:aud-1", "ok", world.school.id)
    console.sign_in("auditor_elsewhere")
    assert console.post("/console/ledger/verify", {"school": world.school.bin},
                        page="/console/ledger").status_code == 404
    assert world.school.bin not in console.get("/console/ledger").get_data(as_text=True)


def test_schools_list_is_the_scope(console, world):
    console.sign_in("auditor")
    html = console.get("/console/schools").get_data(as_text=True)
    assert world.school.bin in html and world.other_school.bin in html
    console.sign_in("school_admin")
    assert console.get("/console/schools").status_code == 303


def test_supplier_claim_differences_are_listed(console, app, meals, world, settings):
    from api.auth import dev_idp

    meals(world.eligible[0], world.eligible[1])
    month = world.today.strftime("%Y-%m")
    token = dev_idp.issue_token(settings, "sup-1", {"role": "supplier", "supplier": world.supplier.bin})
    claim = {"lines": [{"schoolBin": world.school.bin, "day": world.today.isoformat(), "mealType": "lunch",
                        "meals": 3, "amountTiyn": 3 * world.price["lunch"]}]}
    response = app.test_client().post(f"/api/v1/auditor/claims?month={month}&supplier={world.supplier.bin}",
                                      json=claim, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    console.sign_in("auditor")
    html = console.get(f"/console/reconciliation?month={month}&school={world.school.bin}").get_data(as_text=True)
    assert 'class="num bad">1<' in html  # claimed 3, the ledger has 2
    assert f"/console/schools/{world.school.bin}/days/{world.today.isoformat()}" in html


def _cli_verify(settings) -> int:
    from click.testing import CliRunner

    from cli.main import cli

    env = {"WALLET_ENV": "test", "WALLET_DATABASE_URL": settings.database_url,
           "WALLET_INSTANCE_PATH": str(settings.instance_path)}
    return CliRunner().invoke(cli, ["verify"], env=env, catch_exceptions=False).exit_code


def test_ledger_shows_a_run_of_wallet_verify(console, meals, world, settings, engine, session_factory):
    from sqlalchemy import text

    from wallet.models import VerificationRun

    meals(world.eligible[0], world.eligible[1])
    console.sign_in("auditor")
    assert "not verified yet" in console.get("/console/ledger", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert _cli_verify(settings) == 0
    html = console.get("/console/ledger", headers={"Accept-Language": "en"}).get_data(as_text=True)
    row = html[html.index(f'id="school-{world.school.bin}"'):]
    row = row[: row.index("</tr>")]
    assert "pill ok" in row and "command line" in row and "all schools" in row

    # A tampered entry: the next CLI run names it on the school's row and in the list of runs.
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER USER"))
            conn.execute(text("UPDATE ledger_entries SET price_tiyn = price_tiyn + 1 WHERE position = 2"))
            conn.execute(text("ALTER TABLE ledger_entries ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_entries_no_update"))
            conn.execute(text("UPDATE ledger_entries SET price_tiyn = price_tiyn + 1 WHERE position = 2"))
    assert _cli_verify(settings) == 1
    with session_factory() as session:
        run = session.query(VerificationRun).order_by(VerificationRun.id.desc()).first()
        assert (run.via, run.result, run.problem_position) == ("cli", "mismatch", 2)
    html = console.get("/console/ledger", headers={"Accept-Language": "en"}).get_data(as_text=True)
    row = html[html.index(f'id="school-{world.school.bin}"'):]
    row = row[: row.index("</tr>")]
    assert "MISMATCH" in row and f"entry at position 2 (id {run.problem_entry_id})" in row
    assert f'id="run-{run.id}"' in html

    # Another school's administrator sees the national run, but not where it failed.
    console.sign_in("school_admin_b")
    html = console.get("/console/ledger", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "the first mismatch is in another school" in html and "in a school outside your scope" in html
    assert f"entry at position 2 (id {run.problem_entry_id})" not in html and world.school.bin not in html


def test_ledger_page_says_whether_the_national_head_is_witnessed(app, console, session_factory):
    """With witnesses configured, the page names the head, k of n against the quorum, and who is down."""
    import dataclasses
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tlog.cosignature import Cosigner
    from wallet.db import transaction
    from wallet.ledger.signing import SigningKey
    from wallet.models import WitnessOutcome
    from wallet.witness_settings import WitnessPolicy, WitnessSpec
    from wallet.witnessing.national import extend_national_log

    console.sign_in("auditor")
    assert "No witnesses are configured." in console.get("/console/ledger", headers={"Accept-Language": "en"}).text
    cosigners = [Cosigner(f"w.test/{n}", Ed25519PrivateKey.generate()) for n in "ab"]
    policy = WitnessPolicy("meals.test/log", tuple(WitnessSpec("http://w", c.verifier) for c in cosigners), 2)
    app.config["WALLET_SETTINGS"] = dataclasses.replace(app.config["WALLET_SETTINGS"], witness_policy=policy)
    with transaction(session_factory) as session:
        extend_national_log(session, SigningKey.generate(), policy.log_origin)
        session.add(WitnessOutcome(witness_name="w.test/a", tree_size=0, outcome="unreachable",
                                   detail="ConnectTimeout", at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)))
    html = console.get("/console/ledger", headers={"Accept-Language": "en"}).text
    assert 'id="witnesses"' in html and "not witnessed" in html and "0/2 cosigned, quorum 2" in html
    assert "unreachable" in html and "ConnectTimeout" in html and "never asked" in html

def test_the_findings_page_lists_explains_and_rules(console, meals, world, session_factory):
    import datetime as dt

    from wallet.evidence.findings import Candidate, record

    [entry_id] = meals(world.eligible[0])
    with session_factory() as session:
        [finding] = record(session, [Candidate("parent_dispute", "entry:x", world.region.id, world.school.id,
                                               world.today, {"day": world.today.isoformat()}, (int(entry_id),))],
                           source="parent", now=dt.datetime.now(dt.UTC))
        session.commit()
        number = finding.id
    month = world.today.strftime("%Y-%m")
    console.sign_in("school_admin")
    html = console.get(f"/console/findings?month={month}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f'id="finding-{number}"' in html and "did not eat this meal" in html
    assert 'action="/console/findings/' not in html  # a school reads, the authority rules
    console.sign_in("supplier")
    assert console.get(f"/console/findings?month={month}").status_code == 403
    console.sign_in("auditor")
    page = f"/console/findings?month={month}"
    done = console.post(f"/console/findings/{number}/ruling",
                        {"outcome": "dismissed", "reason": "present in the journal", "month": month}, page=page)
    assert done.status_code in (302, 303)
    assert "present in the journal" in console.get(page).get_data(as_text=True)
    refused = console.post(f"/console/findings/{number}/ruling", {"outcome": "upheld", "reason": "again"}, page=page)
    assert refused.status_code == 400  # already ruled: nothing recorded
