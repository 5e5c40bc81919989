"""The Findings page: the month's findings in the reader's scope, filtered by rule, school and day, each with
its explanation, evidence (entries linked to their pages) and state; auditors and operators rule on an open
finding with the form under it (the same service as POST /api/v1/auditor/findings/rulings)."""

from __future__ import annotations

import datetime as dt

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from api import session_scope
from api.console import params, texts
from api.console.blueprint import STAFF, blueprint, principal, requires
from wallet.errors import FieldError, Forbidden, InvalidInput
from wallet.evidence.codes import RULES
from wallet.evidence.rulings import RULING_ROLES, RulingRequest, record_rulings
from wallet.evidence.views import FindingFilter, list_findings
from wallet.messages import T_
from wallet.reconciliation.scope import resolve_scope

READERS = ("auditor", "operator", "school_admin")


@blueprint.get("/findings", endpoint="findings")
@requires(*STAFF)
def findings() -> str:
    who = principal()
    if who.role not in READERS:
        raise Forbidden("forbidden", T_("findings are for auditors, operators and school administrators"))
    month = params.month(request.args.get("month"))
    school = params.optional_bin(request.args.get("school"))
    rule = request.args.get("rule") or None
    if rule is not None and rule not in RULES:
        raise InvalidInput("validation_failed", T_("unknown rule"), [FieldError("rule", ", ".join(RULES))])
    day = params.day(request.args.get("day"), month.first_day) if request.args.get("day") else None
    session = session_scope.session()
    scope = resolve_scope(session, who, school=school)
    views = list_findings(session, scope.school_ids, FindingFilter(month=str(month), rule=rule, day=day))
    lang = texts.language()
    return render_template("console/findings.html", month=month, school=school, rule=rule, day=day, rules=RULES,
                           items=[v.as_json(lang) for v in views], may_rule=who.role in RULING_ROLES)


@blueprint.post("/findings/<finding_id>/ruling", endpoint="finding_ruling")
@requires(*STAFF)  # the service refuses every role but auditors and operators
def finding_ruling(finding_id: str) -> Response:
    number = int(finding_id) if finding_id.isascii() and finding_id.isdigit() and len(finding_id) <= 18 else 0
    record_rulings(session_scope.session(), principal(),
                   [RulingRequest(number, request.form.get("outcome", ""), request.form.get("reason", ""))],
                   dt.datetime.now(dt.UTC))
    return redirect(url_for("console.findings", month=request.form.get("month", "")[:7] or None))
