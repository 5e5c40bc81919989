"""Signing in and out, the language, the home page, and the development sign-in page.

Sign-in takes the identity provider's token pasted into a form and checks it exactly as the API's bearer
checks do (api.auth.idp.claims_of, then the same role rules); the development page mints such a token with
the local identity provider and goes through the very same check. It is added to the app only when the
development identity provider is on, which Settings never allows in production.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from api import session_scope
from api.auth import dev_idp
from api.auth.idp import claims_of, parent_of, staff_of
from api.console import texts
from api.console.blueprint import blueprint, error_page, set_language, sign_in_url
from api.console.session import current_principal, safe_next, sign_in, sign_out
from api.errors import ProblemError
from wallet.config import Settings
from wallet.console_sessions import storable
from wallet.demo.participants import DemoParent, demo_parents
from wallet.identifiers import mask_iin
from wallet.models import Region, School, Supplier
from wallet.principals import STAFF_ROLES, Principal

MAX_TOKEN_CHARS = 8192


def home_of(principal: Principal) -> str:
    if principal.role == "parent":
        return url_for("console.parent_preview")
    if principal.role == "school_admin" and principal.school_bin:
        return url_for("console.school_view", school_bin=principal.school_bin)
    return url_for("console.reconciliation")


@blueprint.get("/")
def home() -> Response:
    who = current_principal()
    if who is None:
        return redirect(sign_in_url(None), 303)  # type: ignore[return-value]
    return redirect(home_of(who), 303)  # type: ignore[return-value]


def _principal_of(claims: dict[str, Any]) -> Principal:
    role = claims.get("role")
    if role in (None, "parent"):
        return parent_of(claims)
    return staff_of(claims, STAFF_ROLES)


def _sign_in_with(token: str, next_url: str | None) -> Response | str:
    """Check the token as the API would; on success start the session and go on, else say why."""
    try:
        claims = claims_of(token)
        principal = _principal_of(claims)
    except ProblemError as exc:
        detail = texts.sentence(exc.detail or "")
        message = (f"{texts.t('role_refused')} {detail}" if exc.status == 403
                   else f"{texts.t('token_refused')}: {detail}")
        return _sign_in_page(next_url, errors={"token": message}, status=401 if exc.status == 401 else 403)
    if not storable(principal):  # claims too long or with control characters for a session row
        return _sign_in_page(next_url, errors={"token": texts.t("token_refused")}, status=401)
    sign_in(claims, principal)
    return redirect(next_url or home_of(principal), 303)  # type: ignore[return-value]


def _sign_in_page(next_url: str | None, *, errors: dict[str, str] | None = None, status: int = 200,
                  reason: str | None = None) -> Any:
    body = render_template("console/sign_in.html", next_url=next_url or "", errors=errors or {}, reason=reason,
                           dev=_settings().dev_idp_enabled)
    return Response(body, status=status, mimetype="text/html")


def _settings() -> Settings:
    return current_app.config["WALLET_SETTINGS"]  # type: ignore[no-any-return]


@blueprint.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_form() -> Any:
    if request.method == "GET":
        reason = request.args.get("reason")
        return _sign_in_page(safe_next(request.args.get("next")),
                             reason=reason if reason in ("expired", "signed_out") else None)
    next_url = safe_next(request.form.get("next"))
    token = request.form.get("token", "").strip()
    if not token:
        return _sign_in_page(next_url, errors={"token": texts.t("required")}, status=422)
    if len(token) > MAX_TOKEN_CHARS:
        return _sign_in_page(next_url, errors={"token": texts.t("token_refused")}, status=422)
    return _sign_in_with(token, next_url)


@blueprint.post("/sign-out", endpoint="sign_out")
def sign_out_form() -> Response:
    sign_out()
    return redirect(url_for("console.sign_in", reason="signed_out"), 303)  # type: ignore[return-value]


@blueprint.post("/language", endpoint="language")
def language_form() -> Response:
    set_language(request.form.get("lang", ""))
    back = safe_next(request.form.get("return_to")) or url_for("console.home")
    return redirect(back, 303)  # type: ignore[return-value]


# Any other path or method under /console/ is the console's own 404 page (not the API's problem document).
@blueprint.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(anything: str) -> Response:
    return error_page(404, "error_404")


# --- development only ---------------------------------------------------------------------------------------

DEV_ROLES = ("operator", "auditor", "school_admin", "supplier", "parent")


def _dev_choices() -> dict[str, list[Any]]:
    session = session_scope.session()
    return {
        "regions": list(session.scalars(select(Region.code).order_by(Region.code).limit(50))),
        "schools": list(session.execute(select(School.bin, School.name_ru).order_by(School.bin).limit(50))),
        "suppliers": list(session.execute(select(Supplier.bin, Supplier.name).order_by(Supplier.bin).limit(50))),
        "parents": [(p.iin, _parent_label(n, p)) for n, p in enumerate(demo_parents(session, 20), start=1)],
    }


def _parent_label(number: int, parent: DemoParent) -> str:
    """Told apart at a glance: a number, the masked IIN, the children and what their vouchers need, e.g.
    "1. 7910******07: 3 children, 1 open voucher offer, 1 active voucher" (the first is the one
    `wallet demo-data` suggests)."""
    parts = [texts.counted(parent.children, "children")]
    if parent.offered:
        parts.append(texts.counted(parent.offered, "open_offers"))
    if parent.active:
        parts.append(texts.counted(parent.active, "active_vouchers"))
    return f"{number}. {mask_iin(parent.iin)}: {', '.join(parts)}"


def dev_sign_in() -> Any:
    settings = _settings()
    if not settings.dev_idp_enabled:  # never reached in production: the route is not even added there
        return error_page(404, "error_404")
    choices = _dev_choices()
    if request.method == "GET":
        return render_template("console/dev_sign_in.html", errors={}, form={}, **choices,
                               roles=DEV_ROLES, next_url=safe_next(request.args.get("next")) or "")
    form = {k: request.form.get(k, "").strip()[:64] for k in ("role", "region", "school", "supplier", "parent")}
    errors: dict[str, str] = {}
    role = form["role"]
    claims: dict[str, Any] = {}
    subject = f"{role}-dev"
    if role not in DEV_ROLES:
        errors["role"] = texts.t("required")
    elif role == "parent":
        if form["parent"] not in {iin for iin, _ in choices["parents"]}:
            errors["parent"] = texts.t("required")
        subject, claims = form["parent"], {"role": "parent"}
    elif role == "auditor":
        # No region chosen: a national auditor, which a token must say explicitly (wallet/principals.py).
        claims = {"role": role, **({"region": form["region"]} if form["region"] else {"national": True})}
        if form["region"] and form["region"] not in choices["regions"]:
            errors["region"] = texts.t("required")
    elif role == "school_admin":
        claims = {"role": role, "school": form["school"]}
        if form["school"] not in {b for b, _ in choices["schools"]}:
            errors["school"] = texts.t("required")
    elif role == "supplier":
        claims = {"role": role, "supplier": form["supplier"]}
        if form["supplier"] not in {b for b, _ in choices["suppliers"]}:
            errors["supplier"] = texts.t("required")
    else:
        claims = {"role": role}
    if errors:
        body = render_template("console/dev_sign_in.html", errors=errors, form=form, **choices, roles=DEV_ROLES,
                               next_url=safe_next(request.form.get("next")) or "")
        return Response(body, status=422, mimetype="text/html")
    return _sign_in_with(dev_idp.issue_token(settings, subject, claims), safe_next(request.form.get("next")))
