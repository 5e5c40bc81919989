"""The ledger view: each school's chain size, its newest signed checkpoint (signature checked on the spot),
the newest recorded verification run that checked it and the latest runs in the viewer's scope, whoever ran
them (`wallet verify`, the API, this page). A button runs the check of one school now and records it. Above
them, whether the national log's newest head is witnessed (k of n) and each witness's last answer."""

from __future__ import annotations

from flask import Response, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from api import session_scope
from api.console import params
from api.console.blueprint import STAFF, blueprint, principal, requires
from wallet.console.ledger_overview import ledger_overview
from wallet.disclosure import may_read_staff_subject, shown_actor
from wallet.keys import load_signing_key, public_keys_of
from wallet.ledger.run_history import list_runs
from wallet.ledger.runs import recorded_run
from wallet.ledger.verify import begin_snapshot, verify_chain
from wallet.models import School
from wallet.scope import school_in_scope, schools_in_scope
from wallet.witnessing.status import witness_status

MAX_SCHOOLS = 500
RECENT_RUNS = 10


def _keys() -> dict[str, bytes]:
    return public_keys_of(load_signing_key(current_app.config["WALLET_SETTINGS"]))


@blueprint.get("/ledger", endpoint="ledger")
@requires(*STAFF)
def ledger() -> str:
    who = principal()
    session = session_scope.session()
    ids = list(session.scalars(select(School.id).where(School.id.in_(schools_in_scope(who)))
                               .order_by(School.bin).limit(MAX_SCHOOLS)))
    rows = ledger_overview(session, who, ids, _keys())
    runs = list_runs(session, who, limit=RECENT_RUNS)
    show_subject = may_read_staff_subject(who.role)
    witnessing = witness_status(session, current_app.config["WALLET_SETTINGS"].witness_policy)
    return render_template("console/ledger.html", rows=rows, runs=runs, verified=request.args.get("verified"),
                           actor=lambda value: shown_actor(value, show_subject=show_subject), witnessing=witnessing)


@blueprint.post("/ledger/verify", endpoint="ledger_verify")
@requires(*STAFF)
def ledger_verify() -> Response:
    """Recompute every hash of one school's chain (as `wallet verify --school BIN`) and record the run."""
    who = principal()
    session = session_scope.session()
    begin_snapshot(session)
    school = school_in_scope(session, who, params.school_bin(request.form.get("school", "")))
    with recorded_run(session_scope.factory(), via="console", actor=who.actor, school_bin=school.bin) as tally:
        try:
            report = verify_chain(session, school.id, _keys())
        finally:
            session.rollback()  # the snapshot (SQLite: the lock) ends before the run is written
        tally.add(report)
    return redirect(url_for("console.ledger", verified=school.bin) + f"#school-{school.bin}", 303)  # type: ignore[return-value]
