"""Console sign-ins live on the server: the cookie carries a random id and nothing personal, signing out
revokes the sign-in (a copy of the cookie is then worth nothing), expiry is the server's, a new sign-in
ends the previous one, and CSRF still guards every form.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import zlib

import pytest
from sqlalchemy import func, select, update

from api.auth import dev_idp
from tests.factories import a_bin
from tests.parent_factories import PARENT_IIN
from wallet.identifiers import looks_like_iin
from wallet.models import ConsoleSession

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "wallet_console"
SUBJECT = "staff-subject-7q"
WHO = {
    "parent": (PARENT_IIN, {"role": "parent"}, "/console/parent"),
    "operator": (SUBJECT, {"role": "operator"}, "/console/ledger"),
    "auditor": (SUBJECT, {"role": "auditor", "region": "KZ-71"}, "/console/ledger"),
    "school_admin": (SUBJECT, {"role": "school_admin", "school": a_bin(1)}, "/console/ledger"),
    "supplier": (SUBJECT, {"role": "supplier", "supplier": a_bin(3)}, "/console/ledger"),
}


def factory(app):
    return app.extensions["wallet.session_factory"]


def csrf(browser, path="/console/sign-in") -> str:
    return CSRF.search(browser.get(path).get_data(as_text=True)).group(1)


def sign_in(app, settings, who: str):
    subject, claims, page = WHO[who]
    browser = app.test_client()
    answer = browser.post("/console/sign-in", data={"csrf_token": csrf(browser),
                                                   "token": dev_idp.issue_token(settings, subject, claims)})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert browser.get(page).status_code == 200
    return browser, page


def cookie_of(browser) -> str:
    cookie = browser.get_cookie(COOKIE, path="/console")
    assert cookie is not None
    return cookie.value


def decoded(cookie: str) -> dict:
    """What anyone holding the cookie can read: Flask's payload is base64 (zlib when it starts with '.')."""
    compressed = cookie.startswith(".")
    payload = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(zlib.decompress(raw) if compressed else raw)


def with_cookie(app, value: str):
    browser = app.test_client()
    browser.set_cookie(COOKIE, value, path="/console")
    return browser


@pytest.mark.parametrize("who", WHO)
def test_the_cookie_holds_a_random_id_and_nothing_personal(app, settings, who):
    browser, _ = sign_in(app, settings, who)
    cookie = cookie_of(browser)
    content = decoded(cookie)
    text = json.dumps(content)
    assert set(content) <= {"sid", "csrf", "lang", "_permanent"}, content
    assert PARENT_IIN not in text and SUBJECT not in text and not looks_like_iin(text)
    assert WHO[who][1]["role"] not in json.dumps({k: v for k, v in content.items() if k != "sid"})
    assert len(content["sid"]) >= 40  # 256 random bits
    with factory(app)() as db:  # the server keeps the id's hash, never the id
        assert db.scalar(select(func.count()).select_from(ConsoleSession)) == 1
        row = db.scalars(select(ConsoleSession)).one()
        assert content["sid"].encode() not in row.id_hash and row.subject == WHO[who][0]


@pytest.mark.parametrize("who", WHO)
def test_signing_out_revokes_the_session_for_every_copy_of_the_cookie(app, settings, who):
    browser, page = sign_in(app, settings, who)
    copied = cookie_of(browser)
    assert with_cookie(app, copied).get(page).status_code == 200  # a copy works while signed in
    answer = browser.post("/console/sign-out", data={"csrf_token": csrf(browser, page)})
    assert answer.status_code == 303
    refused = with_cookie(app, copied).get(page)
    assert refused.status_code == 303 and "/console/sign-in" in refused.headers["Location"]
    with factory(app)() as db:
        assert db.scalar(select(func.count()).select_from(ConsoleSession)) == 0


def test_expiry_is_the_servers_and_an_expired_row_is_deleted(app, settings):
    browser, page = sign_in(app, settings, "operator")
    with factory(app)() as db:
        db.execute(update(ConsoleSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.commit()
    answer = browser.get(page)
    assert answer.status_code == 303 and "reason=expired" in answer.headers["Location"]
    with factory(app)() as db:
        assert db.scalar(select(func.count()).select_from(ConsoleSession)) == 0


def test_a_new_sign_in_ends_the_previous_one(app, settings):
    browser, page = sign_in(app, settings, "operator")
    first = cookie_of(browser)
    again = browser.post("/console/sign-in", data={"csrf_token": csrf(browser, page),
                                                  "token": dev_idp.issue_token(settings, SUBJECT, {"role": "auditor",
                                                                                                  "region": "KZ-71"})})
    assert again.status_code == 303 and cookie_of(browser) != first
    assert with_cookie(app, first).get(page).status_code == 303
    with factory(app)() as db:
        assert [r.role for r in db.scalars(select(ConsoleSession))] == ["auditor"]


def test_a_forged_or_unknown_session_id_is_nobody(app, settings):
    browser, page = sign_in(app, settings, "operator")
    with factory(app)() as db:
        db.execute(ConsoleSession.__table__.delete())  # revoked on the server (e.g. by an operator)
        db.commit()
    assert browser.get(page).status_code == 303


def test_forms_still_need_the_csrf_token(app, settings):
    browser, page = sign_in(app, settings, "operator")
    assert browser.post("/console/sign-out", data={}).status_code == 400
    assert browser.get(page).status_code == 200  # the refused sign-out ended nothing


@pytest.mark.parametrize("subject", ["x" * 300, "staff\x00one", "staff\u2028one"])
def test_an_identity_that_cannot_be_stored_is_refused_not_a_500(app, settings, subject):
    browser = app.test_client()
    answer = browser.post("/console/sign-in", data={
        "csrf_token": csrf(browser), "token": dev_idp.issue_token(settings, subject, {"role": "operator"})})
    assert answer.status_code in (401, 403)
