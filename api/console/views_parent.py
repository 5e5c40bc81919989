"""The parent preview: what a parent's mobile app shows (children, today's meals, history, the menu with
allergen warnings) and its feedback form, at phone width. The same services as the parent API, and every read
of a child's data is written to the access log the same way (find_child / list_children with an AccessNote).
The consent rule is the API's too (wallet.vouchers.views): a child whose vouchers hold no accepted consent is
shown by name with a note that the offer awaits an answer, nothing of its meals or menu is read or logged,
and feedback on its meals is refused (403 consent_required). With witnesses configured, a meal whose receipt
verifies (wallet.witnessing.receipts) is marked "verified".
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, redirect, render_template, request, url_for

from api import session_scope
from api.console import params, texts
from api.console.blueprint import PARENTS, blueprint, principal, requires
from wallet.errors import DomainError, InvalidInput
from wallet.keys import load_signing_key, public_keys_of
from wallet.models import FEEDBACK_TAGS
from wallet.parents.access_log import AccessNote, record_access
from wallet.parents.children import Child, find_child, list_children
from wallet.parents.feedback import MAX_COMMENT, latest_feedback, submit_feedback
from wallet.parents.history import meal_history
from wallet.parents.menus import allergen_warnings, day_menu
from wallet.parents.today import today_status
from wallet.principals import Principal
from wallet.vouchers.views import voucher_states
from wallet.witnessing.receipts import receipts_verified

HISTORY_DAYS = 30
HISTORY_ITEMS = 30


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _child(who: Principal, raw: str | None, action: str | None, detail: str | None = None, *,
           consent: bool = False) -> Child:
    note = AccessNote(who.role, who.subject, action, detail) if action else None
    return find_child(session_scope.session(), who.subject, params.child_id(raw), _now(), log=note, consent=consent)


def _draft() -> dict[str, Any]:
    """A feedback draft brought back after sign-in (see api/console/session.py), or a form being corrected."""
    args = request.args
    return {"entry": args.get("draft_entry", ""), "rating": args.get("draft_rating", ""),
            "comment": args.get("draft_comment", "")[:MAX_COMMENT * 2], "tags": args.getlist("draft_tags")}


def _page(who: Principal, child_raw: str | None, *, rate: str | None, draft: dict[str, Any],
          errors: dict[str, str], status: int = 200) -> Response:
    session = session_scope.session()
    children = list_children(session, who.subject, _now(), log=AccessNote(who.role, who.subject, "children"))
    child = None
    today = history = menu = feedback = None
    receipts: dict[int, bool] = {}
    rate_id = None
    consent_needed = False
    if child_raw or children:
        raw = child_raw or str(children[0].id)
        wanted = params.child_id(raw)
        consent_needed = wanted is not None and not voucher_states(session, who.subject, [wanted]).get(
            wanted, ("", True))[1]
    if consent_needed:
        child = _child(who, raw, None)  # the caller's own child (else the usual 404); listed, nothing read
    elif child_raw or children:
        child = _child(who, raw, "meals_today")
        today = today_status(session, child)
        child = _child(who, raw, "meals", f"{child.today - dt.timedelta(days=HISTORY_DAYS - 1)}..{child.today}")
        history, _ = meal_history(session, child, child.today - dt.timedelta(days=HISTORY_DAYS - 1), child.today,
                                  after=None, limit=HISTORY_ITEMS)
        child = _child(who, raw, "menu", child.today.isoformat())
        menu = day_menu(session, child, child.today)
        receipts = _receipts(session, child.id, [h.entry_id for h in history if h.kind == "meal"])
        rate_id = _entry_id(rate or draft.get("entry"))
        if rate_id is not None and any(h.entry_id == rate_id for h in history):
            child = _child(who, raw, "feedback_read", f"entry {rate_id}")
            try:
                feedback = latest_feedback(session, child.id, rate_id)
            except DomainError:
                feedback = None
        else:
            rate_id = None
    body = render_template(
        "console/parent.html", children=children, child=child, today=today, history=history or [], menu=menu,
        warnings=allergen_warnings, rate_id=rate_id, feedback=feedback, draft=draft, errors=errors,
        tags=FEEDBACK_TAGS, max_comment=MAX_COMMENT, saved=request.args.get("saved") == "1",
        consent_needed=consent_needed, receipts=receipts,
        return_to=url_for("console.parent_preview", child=str(child.id)) if child else "",
    )
    return Response(body, status=status, mimetype="text/html")


def _receipts(session: Any, child_id: Any, entry_ids: list[int]) -> dict[int, bool]:
    """Which meals' receipts verify now (entry, school and national proofs, k cosignatures): the "verified"
    mark a parent's app shows. Only with witnesses configured."""
    settings = current_app.config["WALLET_SETTINGS"]
    if not settings.witness_policy.enabled:
        return {}
    keys = public_keys_of(load_signing_key(settings))
    return receipts_verified(session, settings.witness_policy, keys, child_id, entry_ids)


def _entry_id(raw: object) -> int | None:
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


@blueprint.get("/parent", endpoint="parent_preview")
@requires(*PARENTS)
def parent_preview() -> Response:
    return _page(principal(), request.args.get("child"), rate=request.args.get("rate"), draft=_draft(), errors={})


def _validate(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The server's own checks (the browser's are a convenience): rating 1-5, known tags, comment length."""
    values = {"entry": form.get("entry", "")[:20], "rating": form.get("rating", "")[:2],
              "comment": form.get("comment", "")[:MAX_COMMENT * 2], "tags": form.getlist("tags")[:20]}
    errors: dict[str, str] = {}
    if values["rating"] not in {"1", "2", "3", "4", "5"}:
        errors["rating"] = texts.t("rating")
    if any(tag not in FEEDBACK_TAGS for tag in values["tags"]):
        errors["tags"] = texts.t("tags")
    if len(values["comment"].strip()) > MAX_COMMENT:
        errors["comment"] = f"≤ {MAX_COMMENT}"
    if _entry_id(values["entry"]) is None:
        errors["entry"] = texts.t("entry")
    return values, errors


@blueprint.post("/parent/feedback", endpoint="parent_feedback")
@requires(*PARENTS)
def parent_feedback() -> Response:
    who = principal()
    child_raw = request.form.get("child")
    # Another parent's child: the same 404 as a child that does not exist; without consent, 403.
    child = _child(who, child_raw, None, consent=True)
    values, errors = _validate(request.form)
    if not errors:
        try:
            view, _ = submit_feedback(session_scope.session(), parent_iin=who.subject, child_id=child.id,
                                      entry_id=_entry_id(values["entry"]), rating=int(values["rating"]),
                                      tags=values["tags"], comment=values["comment"] or None)
        except InvalidInput as exc:
            errors = ({e.field: texts.sentence(e.message) for e in exc.field_errors}
                      or {"comment": texts.sentence(exc.message)})
        except DomainError as exc:
            errors = {"entry": texts.sentence(exc.message)}
        else:
            record_access(session_scope.session(), actor_role=who.role, actor_id=who.subject, student_ids=[child.id],
                          action="feedback_write", detail=f"entry {view.entry_id} v{view.version}")
            query = urlencode({"child": str(child.id), "rate": str(view.entry_id), "saved": "1"})
            return redirect(f"{url_for('console.parent_preview')}?{query}#feedback", 303)  # type: ignore[return-value]
    return _page(who, str(child.id), rate=values["entry"], draft=values, errors=errors, status=422)
