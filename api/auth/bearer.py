"""Reading the bearer token from the Authorization header."""

from __future__ import annotations

from flask import request

from api.errors import ProblemError
from wallet.messages import T_

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="social-wallet"'}


def unauthorized(code: str, detail: str) -> ProblemError:
    return ProblemError(401, code, detail, headers=_CHALLENGE)


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("unauthorized", T_("A bearer token is required."))
    if len(token) > 8192:
        raise unauthorized("invalid_token", T_("The token is too long."))
    return token.strip()
