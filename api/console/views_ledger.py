"""The ledger view: each school's chain size, its newest signed checkpoint (signature checked on the spot),
and the last full verification of the chain run from the console (a button runs one now)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Response, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from api import session_scope
from api.console import params
from api.console.blueprint import STAFF, blueprint, principal, requires
from wallet.console.ledger_overview import ledger_overview, record_result
from wallet.keys import load_signing_key, public_keys_of
from wallet.ledger.verify import begin_snapshot, verify_chain
from wallet.models import School
from wallet.scope import school_in_scope, schools_in_scope

MAX_SCHOOLS = 500


def _keys() -> dict[str, bytes]:
    return public_keys_of(load_signing_key(current_app.config["WALLET_SETTINGS"]))


def _results_dir() -> Path:
    return Path(current_app.config["WALLET_SETTINGS"].instance_path)


@blueprint.get("/ledger", endpoint="ledger")
@requires(*STAFF)
def ledger() -> str:
    session = session_scope.session()
    ids = list(session.scalars(select(School.id).where(School.id.in_(schools_in_scope(principal())))
                               .order_by(School.bin).limit(MAX_SCHOOLS)))
    rows = ledger_overview(session, ids, _keys(), _results_dir())
    return render_template("console/ledger.html", rows=rows, verified=request.args.get("verified"))


@blueprint.post("/ledger/verify", endpoint="ledger_verify")
@requires(*STAFF)
def ledger_verify() -> Response:
    """Recompute every hash of one school's chain (as `wallet verify --school BIN`) and remember the result."""
    who = principal()
    session = session_scope.session()
    begin_snapshot(session)
    school = school_in_scope(session, who, params.school_bin(request.form.get("school", "")))
    report = verify_chain(session, school.id, _keys())
    session.rollback()
    record_result(_results_dir(), report, dt.datetime.now(dt.UTC).replace(microsecond=0), who.actor)
    return redirect(url_for("console.ledger", verified=school.bin) + f"#school-{school.bin}", 303)  # type: ignore[return-value]
