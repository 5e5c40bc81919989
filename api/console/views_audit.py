"""The auditor's view: a month's reconciliation for a scope as tables and charts, the drill-down region ->
school -> day -> entry, the exports (the API's own documents and writers), and an entry's proof with the
result of checking it (wallet.reconciliation.proofs.verify_document with the service's public key)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import Response, current_app, render_template, request, stream_with_context
from sqlalchemy import select

from api import read_replica, session_scope
from api.console import charts, params, texts
from api.console.blueprint import STAFF, blueprint, principal, requires
from api.console.export_labels import labeller
from wallet.console.entries import entry_in_scope
from wallet.console.month_series import daily_figures
from wallet.errors import FieldError, InvalidInput
from wallet.ingest.rules import REASON_CODES
from wallet.keys import load_signing_key, public_keys_of
from wallet.messages import T_
from wallet.models import Region
from wallet.reconciliation.exports import entries_document, reconciliation_document
from wallet.reconciliation.proofs import entry_proof, redacted_members, verify_document
from wallet.reconciliation.queries import reconcile
from wallet.reconciliation.results import Reconciliation
from wallet.reconciliation.scope import Scope, resolve_scope
from wallet.reconciliation.writers import CONTENT_TYPES, FORMATS, Document, write

WHAT = ("reconciliation", "entries")


@dataclass
class Group:
    """One row of the drill-down table: a region or a school, with its figures summed from the lines."""

    key: str
    label: str
    meals: int = 0
    amount: int = 0
    refused: int = 0
    ceiling: int = 0
    schools: set[int] = field(default_factory=set)

    @property
    def ratio(self) -> str:
        return f"{self.meals / self.ceiling:.1%}" if self.ceiling else "—"


def _scope_args() -> tuple[str | None, str | None]:
    region, school = params.optional_region(request.args.get("region")), params.optional_bin(request.args.get("school"))
    if region and school:
        raise InvalidInput("validation_failed", T_("give a region or a school, not both"),
                           [FieldError("school", T_("not together with region"))])
    return region, school


def _groups(rec: Reconciliation, region_codes: dict[int, str], by_region: bool) -> list[Group]:
    schools = {s.id: s for s in rec.scope.schools}
    groups: dict[str, Group] = {}
    for s in rec.scope.schools:  # every school of the scope, also those without meals
        key = region_codes.get(s.region_id, "?") if by_region else s.bin
        groups.setdefault(key, Group(key, key if by_region else f"{s.bin} {s.name}")).schools.add(s.id)
    for line in rec.lines:
        s = schools[line.school_id]
        group = groups[region_codes.get(s.region_id, "?") if by_region else s.bin]
        group.meals += line.net_meals
        group.amount += line.net_amount
        group.refused += line.refused
        group.ceiling += line.ceiling
    return sorted(groups.values(), key=lambda g: g.key)


@blueprint.get("/reconciliation", endpoint="reconciliation")
@requires(*STAFF)
def reconciliation() -> str:
    who = principal()
    month = params.month(request.args.get("month"))
    region, school = _scope_args()
    session = read_replica.snapshot_session()  # every figure from one snapshot, on the replica if there is one
    scope = resolve_scope(session, who, region=region, school=school)
    rec = reconcile(session, scope, month)
    figures = daily_figures(session, scope, month)
    region_codes = {i: code for i, code in session.execute(
        select(Region.id, Region.code).where(Region.id.in_(scope.region_ids or {-1})))}
    by_region = school is None and region is None and len(scope.region_ids) > 1
    reason_labels = {code: texts.t(code) for code in REASON_CODES}
    return render_template(
        "console/reconciliation.html", rec=rec, month=month, region=region, school=school,
        level="school" if school else ("regions" if by_region else "schools"),
        groups=_groups(rec, region_codes, by_region), figures=figures,
        day_chart=charts.day_chart(figures, meals_word=texts.t("meals"), ceiling_word=texts.t("ceiling")),
        reason_chart=charts.reason_chart(rec.totals.refused_by_reason, reason_labels),
        reason_labels=reason_labels, formats=FORMATS, single_school=scope.schools[0] if school else None,
    )


def _download(chunks: Iterator[bytes], fmt: str, filename: str) -> Response:
    response = Response(stream_with_context(chunks), content_type=CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/reconciliation/export", endpoint="reconciliation_export")
@requires(*STAFF)
def reconciliation_export() -> Response:
    """The same files as /api/v1/auditor/reconciliations/export and /entries/export, for the export buttons."""
    who = principal()
    month = params.month(request.args.get("month"))
    region, school = _scope_args()
    fmt, what = request.args.get("format", ""), request.args.get("what", "reconciliation")
    if fmt not in FORMATS or what not in WHAT:
        raise InvalidInput("validation_failed", T_("format is one of %(formats)s; what one of %(what)s",
                                                   formats=", ".join(FORMATS), what=", ".join(WHAT)),
                           [FieldError("format", T_("csv, xlsx or json"))])
    session = read_replica.snapshot_session()
    if what == "reconciliation":
        scope = resolve_scope(session, who, region=region, school=school)
        document = reconciliation_document(reconcile(session, scope, month))
        return _download(write(document, fmt, labels=labeller(texts.language())), fmt,
                         f"reconciliation-{scope.slug}-{month}.{fmt}")
    scope = resolve_scope(session, who, region=region, school=school)
    # The entries are streamed from a session of the stream's own; the request's session lets go of the
    # database first (SQLite: its write lock), so the two never wait on each other.
    session.rollback()
    factory = read_replica.stream_factory()
    labels = labeller(texts.language())

    def chunks(scope: Scope = scope) -> Iterator[bytes]:
        with factory() as own:
            read_replica.begin(own)
            document: Document = entries_document(own, scope, month)
            yield from write(document, fmt, labels=labels)

    return _download(chunks(), fmt, f"entries-{scope.slug}-{month}.{fmt}")


def _public_keys() -> dict[str, bytes]:
    return public_keys_of(load_signing_key(current_app.config["WALLET_SETTINGS"]))


@blueprint.get("/entries/<entry_id>", endpoint="entry_view")
@requires(*STAFF)
def entry_view(entry_id: str) -> str:
    entry = entry_in_scope(session_scope.session(), principal(), params.entry_id(entry_id), show_iin=False)
    return render_template("console/entry.html", entry=entry, proof=None, problems=None)


@blueprint.post("/entries/<entry_id>/verify", endpoint="entry_verify")
@requires(*STAFF)
def entry_verify(entry_id: str) -> str:
    """Make the entry's inclusion proof (signing a checkpoint first if none covers it yet) and check it as an
    outsider would: signature, canonical payload, leaf hash, and the path to the signed root."""
    who = principal()
    number = params.entry_id(entry_id)
    session = session_scope.session()
    entry = entry_in_scope(session, who, number, show_iin=False)
    key = load_signing_key(current_app.config["WALLET_SETTINGS"])
    proof = entry_proof(session, who, number, key, mask_iins=True)
    problems = verify_document(proof, public_keys_of(key))
    return render_template("console/entry.html", entry=entry, proof=json.dumps(proof, ensure_ascii=False, indent=2),
                           problems=problems, redacted=redacted_members(proof))


@blueprint.get("/entries/<entry_id>/proof.json", endpoint="entry_proof_file")
@requires(*STAFF)
def entry_proof_file(entry_id: str) -> Response:
    who = principal()
    number = params.entry_id(entry_id)
    key = load_signing_key(current_app.config["WALLET_SETTINGS"])
    document = entry_proof(session_scope.session(), who, number, key, mask_iins=True)
    response = Response(json.dumps(document, ensure_ascii=False, indent=2), content_type="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="proof-entry-{number}.json"'
    return response
