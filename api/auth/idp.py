"""People's tokens from the identity provider: checked against its JWKS with pinned issuer, audience and
algorithms. Keys are found by `kid`; an unknown `kid` makes a URL-based JWKS refetch once (key rotation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, current_app

from api.auth import dev_idp
from api.auth.bearer import bearer_token, unauthorized
from api.errors import ProblemError
from wallet.config import ConfigError, Settings
from wallet.identifiers import is_valid_iin
from wallet.principals import STAFF_ROLES, Principal

LEEWAY_S = 30


class KeySource:
    """Where signing keys come from: a JWKS URL (cached by PyJWKClient), a file, or the dev IdP."""

    def __init__(self, settings: Settings) -> None:
        self._client: jwt.PyJWKClient | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        if settings.idp_jwks.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(settings.idp_jwks, cache_keys=True, lifespan=3600, timeout=5)
        elif settings.idp_jwks:
            self._keys = self._load(json.loads(Path(settings.idp_jwks).read_text()))
        elif settings.dev_idp_enabled:
            self._keys = self._load(dev_idp.jwks(settings))
        else:
            raise ConfigError("no identity-provider JWKS configured (WALLET_IDP_JWKS)")

    @staticmethod
    def _load(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
        keys = jwt.PyJWKSet.from_dict(document).keys
        return {key.key_id: key for key in keys if key.key_id}

    def key_for(self, kid: str) -> jwt.PyJWK:
        if self._client is not None:
            try:
                return self._client.get_signing_key(kid)
            except jwt.PyJWKClientError as exc:
                raise unauthorized("invalid_token", "The token's key id is unknown.") from exc
        key = self._keys.get(kid)
        if key is None:
            raise unauthorized("invalid_token", "The token's key id is unknown.")
        return key


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["wallet.idp_keys"] = KeySource(settings)


def verified_claims() -> dict[str, Any]:
    token = bearer_token()
    settings: Settings = current_app.config["WALLET_SETTINGS"]
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise unauthorized("invalid_token", "The token is not a well-formed JWT.") from exc
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in settings.idp_algorithms:
        raise unauthorized("invalid_token", f"Tokens signed with {alg!r} are not accepted.")
    if not isinstance(kid, str):
        raise unauthorized("invalid_token", "The token has no key id (kid).")
    key = current_app.extensions["wallet.idp_keys"].key_for(kid)
    if key.algorithm_name != alg:
        raise unauthorized("invalid_token", "The token's algorithm does not match its key.")
    try:
        return jwt.decode(
            token, key, algorithms=[alg], audience=settings.idp_audience, issuer=settings.idp_issuer,
            leeway=LEEWAY_S, options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise unauthorized("token_expired", "The token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise unauthorized("invalid_token", f"The token was refused: {exc}.") from exc


def authenticate_parent() -> Principal:
    claims = verified_claims()
    if claims.get("role") not in (None, "parent") or not is_valid_iin(claims["sub"]):
        raise unauthorized("invalid_token", "A parent's token must carry the parent's IIN as sub.")
    return Principal(subject=claims["sub"], role="parent")


def authenticate_staff(*roles: str) -> Principal:
    """A staff member with one of `roles`; any other authenticated caller gets 403."""
    claims = verified_claims()
    role = claims.get("role")
    if role not in STAFF_ROLES:
        raise ProblemError(403, "forbidden", "This function is for staff roles only.")
    if role not in roles:
        raise ProblemError(403, "forbidden", f"The role {role} may not use this function.")
    return Principal(subject=str(claims["sub"]), role=role, school_bin=claims.get("school"),
                     region_code=claims.get("region"), supplier_bin=claims.get("supplier"))
