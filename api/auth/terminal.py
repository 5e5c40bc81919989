"""Terminal authentication: a short-lived JWT signed by the terminal's own Ed25519 key on every request.

Algorithms are pinned to EdDSA; `aud`, `iss` (= `sub` = terminal id), `exp`, `iat` and `nbf` are checked;
the lifetime is bounded; a `jti` is accepted once; a revoked terminal is refused at once.
"""

from __future__ import annotations

import datetime as dt
import logging

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import current_app, g
from sqlalchemy.orm import Session

from api import ratelimit, session_scope
from api.auth.bearer import bearer_token, unauthorized
from api.errors import ProblemError
from wallet.config import Settings
from wallet.messages import T_
from wallet.models import Terminal
from wallet.terminals import TERMINAL_ID, consume_token_id, decode_public_key
from wallet.text import text_problem

log = logging.getLogger(__name__)


def authenticate_terminal(*, spend_in_transaction: bool = False) -> Terminal:
    """The verified, active terminal that signed this request; its token id spent (committed at once, or
    with `spend_in_transaction` left in the request's transaction for the view's service to commit: the
    view must then commit on every answer it gives, see api.terminals.post_events)."""
    token = bearer_token()
    settings: Settings = current_app.config["WALLET_SETTINGS"]
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise unauthorized("invalid_token", T_("The token is not a well-formed JWT.")) from exc
    if header.get("alg") != "EdDSA":
        raise unauthorized("invalid_token", T_("Terminal tokens must be signed with EdDSA (Ed25519)."))
    terminal_id = unverified.get("iss")
    session = session_scope.session()
    # Read before any signature is checked: only the shape of a terminal id is looked up (a NUL or a 10 kB
    # string used to reach the database, a 500 on PostgreSQL).
    terminal = session.get(Terminal, terminal_id) if could_be_terminal_id(terminal_id) else None
    if terminal is None:
        raise unauthorized("invalid_token", T_("The token's issuer is not a registered terminal."))
    claims = _verified_claims(token, terminal, settings)
    if terminal.status != "active":
        raise ProblemError(403, "terminal_revoked", T_("This terminal has been revoked."))
    expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC)
    if not consume_token_id(session, terminal.id, str(claims["jti"]), expires, commit=not spend_in_transaction):
        raise unauthorized("token_replayed", T_("This token has been used before; sign a new one per request."))
    if spend_in_transaction:
        g.terminal_token_id = (terminal.id, str(claims["jti"]), expires)
    ratelimit.verified("terminal", terminal.id)  # only now: a forged or replayed token is the sender's cost
    return terminal


def spend_token_id_again(session: Session) -> None:
    """Spend this request's token id again after its transaction was rolled back (a retried batch);
    a replay that spent it meanwhile makes this request the replay."""
    terminal_id, jti, expires = g.terminal_token_id
    if not consume_token_id(session, terminal_id, jti, expires, commit=False):
        raise unauthorized("token_replayed", T_("This token has been used before; sign a new one per request."))


def could_be_terminal_id(value: object) -> bool:
    """Whether an unverified `iss` is worth a lookup: shaped as terminal ids are (wallet.terminals.TERMINAL_ID).
    Anything else (an unpaired surrogate, a NUL, which the databases refuse to compare) names no terminal."""
    return isinstance(value, str) and TERMINAL_ID.match(value) is not None


def _verified_claims(token: str, terminal: Terminal, settings: Settings) -> dict:
    key = Ed25519PublicKey.from_public_bytes(decode_public_key(terminal.public_key))
    try:
        # The time claims are checked below against the service's clock (wallet/clock.py), which a test may
        # set; pyjwt would read the system clock. Signature, audience, issuer and presence are pyjwt's.
        claims = jwt.decode(
            token, key, algorithms=["EdDSA"], audience=settings.service_audience, issuer=terminal.id,
            options={"require": ["exp", "iat", "iss", "sub", "aud", "jti"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise unauthorized("invalid_token", T_("The token was refused: %(exc)s.", exc=exc)) from exc
    _check_times(claims, settings.now().timestamp(), settings.device_clock_tolerance_s)
    if not all(_numeric_date(claims[name]) for name in ("exp", "iat", "nbf") if name in claims):
        raise unauthorized("invalid_token", T_("The token's exp, iat and nbf must be numbers (NumericDate)."))
    if claims["sub"] != terminal.id:
        raise unauthorized("invalid_token", T_("The token's sub must equal its iss (the terminal id)."))
    jti = claims["jti"]
    if not isinstance(jti, str) or text_problem(jti, min_length=8, max_length=64) is not None:
        raise unauthorized("invalid_token", T_("The token's jti must be 8-64 characters, no control characters."))
    if claims["exp"] - claims["iat"] > settings.terminal_token_max_lifetime_s:
        raise unauthorized("invalid_token", T_("The token lives longer than the service allows."))
    return claims


def _check_times(claims: dict, now: float, leeway: float) -> None:
    """exp, iat and nbf against `now`, with the clock tolerance as leeway: pyjwt's rules (values read as
    int() reads them; the NumericDate check follows), on the service's clock."""
    times = {}
    for name in ("exp", "iat", "nbf"):
        if name in claims:
            try:
                times[name] = int(claims[name])
            except (TypeError, ValueError, OverflowError):
                raise unauthorized("invalid_token", T_("The token was refused: the %(name)s claim must be a number.",
                                                       name=name)) \
                    from None
    if times["exp"] <= now - leeway:
        raise unauthorized("token_expired", T_("The token has expired."))
    if times["iat"] > now + leeway:
        raise unauthorized("invalid_token", T_("The token was refused: The token is not yet valid (iat)."))
    if "nbf" in times and times["nbf"] > now + leeway:
        raise unauthorized("invalid_token", T_("The token was refused: The token is not yet valid (nbf)."))


def _numeric_date(value: object) -> bool:
    # pyjwt would accept any int()-able value ("1700000000") for the time claims; RFC 7519 wants numbers.
    return isinstance(value, int | float) and not isinstance(value, bool)
