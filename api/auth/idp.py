"""People's tokens from the identity provider: checked against its JWKS with pinned issuer, audience and
algorithms. Keys are found by `kid`; an unknown `kid` makes a URL-based JWKS refetch once (key rotation).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, current_app

from api import ratelimit
from api.auth import dev_idp
from api.auth.bearer import bearer_token, unauthorized
from api.errors import ProblemError
from wallet.config import ConfigError, Settings, check_idp_jwks, jwks_is_url
from wallet.messages import T_
from wallet.principals import (
    STAFF_ROLES,
    ClaimError,
    IdentityClaimError,
    Principal,
    ScopeClaimError,
    parent_principal,
    role_claim,
    staff_principal,
)

LEEWAY_S = 30


class KeySource:
    """Where signing keys come from: a JWKS URL (cached by PyJWKClient), a file, or the dev IdP.

    A URL's key set is cached for JWKS_LIFESPAN_S; a token with an unknown `kid` refetches it, at most once
    per REFRESH_COOLDOWN_S (so tokens with made-up kids cannot make us hammer the identity provider). Keys
    are not cached apart from the set, so a key the provider withdraws stops working at the next refetch.
    """

    JWKS_LIFESPAN_S = 3600.0
    REFRESH_COOLDOWN_S = 30.0

    def __init__(self, settings: Settings) -> None:
        self._client: jwt.PyJWKClient | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        # Settings made in code (not from the environment) are held to the same rule as the environment's.
        check_idp_jwks(settings.idp_jwks, production=settings.is_production)
        if jwks_is_url(settings.idp_jwks):
            self._client = jwt.PyJWKClient(settings.idp_jwks, cache_keys=False, lifespan=self.JWKS_LIFESPAN_S,
                                           timeout=5, cooldown_duration=self.REFRESH_COOLDOWN_S)
        elif settings.idp_jwks:
            self._keys = self._read_file(Path(settings.idp_jwks))
        elif settings.dev_idp_enabled:
            self._keys = self._load(dev_idp.jwks(settings))
        else:
            raise ConfigError("no identity-provider JWKS configured (WALLET_IDP_JWKS)")

    @classmethod
    def _read_file(cls, path: Path) -> dict[str, jwt.PyJWK]:
        """A JWKS file's keys; a file that cannot be read or holds no usable key stops the start."""
        try:
            keys = cls._load(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError, jwt.PyJWTError) as exc:
            raise ConfigError(f"WALLET_IDP_JWKS: {path} is not a readable JWKS file ({type(exc).__name__})") from exc
        if not keys:
            raise ConfigError(f"WALLET_IDP_JWKS: {path} holds no signing key with a kid")
        return keys

    @staticmethod
    def _load(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
        keys = jwt.PyJWKSet.from_dict(document).keys
        return {key.key_id: key for key in keys if key.key_id}

    def key_for(self, kid: str) -> jwt.PyJWK:
        if self._client is not None:
            try:
                return self._client.get_signing_key(kid)
            except jwt.PyJWKClientConnectionError as exc:
                raise ProblemError(503, "idp_unavailable", T_("The identity provider's keys cannot be fetched now."),
                                   headers={"Retry-After": "5"}) from exc
            except jwt.PyJWKClientError as exc:
                raise unauthorized("invalid_token", T_("The token's key id is unknown.")) from exc
        key = self._keys.get(kid)
        if key is None:
            raise unauthorized("invalid_token", T_("The token's key id is unknown."))
        return key


class VerifiedTokens:
    """Claims of tokens this process verified lately, by the token's SHA-256: an app sends the same token
    with every request for its lifetime, and checking an ECDSA or RSA signature (and parsing the JWT) each
    time is most of a small read's CPU. An entry serves for at most TTL_S and never past the token's `exp`
    (with the same leeway as the full check), so expiry is exact and a key the provider withdraws stops
    working within TTL_S. Only successful checks are remembered."""

    TTL_S = 60.0
    MAX_ENTRIES = 20_000

    def __init__(self) -> None:
        self._entries: OrderedDict[bytes, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> dict[str, Any] | None:
        key, now = self._key(token), time.time()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < now:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, token: str, claims: dict[str, Any]) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            return
        until = min(time.time() + self.TTL_S, float(exp) + LEEWAY_S)
        with self._lock:
            self._entries[self._key(token)] = (until, claims)
            self._entries.move_to_end(self._key(token))
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["wallet.idp_keys"] = KeySource(settings)
    app.extensions["wallet.idp_verified"] = VerifiedTokens()


def verified_claims() -> dict[str, Any]:
    return claims_of(bearer_token())


def claims_of(token: str) -> dict[str, Any]:
    """The claims of an identity-provider token, checked as every bearer token is (the web console's
    sign-in form uses this too); raises the same 401 problems."""
    if len(token) > 8192:
        raise unauthorized("invalid_token", T_("The token is too long."))
    verified: VerifiedTokens = current_app.extensions["wallet.idp_verified"]
    claims = verified.get(token)
    if claims is None:
        claims = _verify(token)
        verified.put(token, claims)
    return claims


def _verify(token: str) -> dict[str, Any]:
    settings: Settings = current_app.config["WALLET_SETTINGS"]
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise unauthorized("invalid_token", T_("The token is not a well-formed JWT.")) from exc
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in settings.idp_algorithms:
        raise unauthorized("invalid_token", T_("Tokens signed with %(alg)r are not accepted.", alg=alg))
    if not isinstance(kid, str):
        raise unauthorized("invalid_token", T_("The token has no key id (kid)."))
    key = current_app.extensions["wallet.idp_keys"].key_for(kid)
    if key.algorithm_name != alg:
        raise unauthorized("invalid_token", T_("The token's algorithm does not match its key."))
    try:
        claims = jwt.decode(
            token, key, algorithms=[alg], audience=settings.idp_audience, issuer=settings.idp_issuer,
            leeway=LEEWAY_S, options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise unauthorized("token_expired", T_("The token has expired.")) from exc
    except jwt.PyJWTError as exc:
        raise unauthorized("invalid_token", T_("The token was refused: %(exc)s.", exc=exc)) from exc
    # pyjwt takes any int()-able value ("1700000000", true) for the time claims, and integers of any size,
    # which later arithmetic cannot hold (float(10**400) raises); RFC 7519 wants a NumericDate.
    if not all(is_numeric_date(claims[name]) for name in ("exp", "iat", "nbf") if name in claims):
        raise unauthorized("invalid_token", T_("The token's exp, iat and nbf must be numbers (NumericDate)."))
    return claims


# The last second of year 9999: beyond it no date the service works with exists.
MAX_NUMERIC_DATE = 253_402_300_799


def is_numeric_date(value: object) -> bool:
    # NaN and the infinities fail the comparison; an integer of any size compares without overflow.
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= MAX_NUMERIC_DATE


def authenticate_parent() -> Principal:
    principal = parent_of(verified_claims())
    ratelimit.verified("parent", principal.subject)
    return principal


def parent_of(claims: dict[str, Any]) -> Principal:
    """A parent from verified claims (wallet.principals reads them); an unusable claim is a 401."""
    try:
        return parent_principal(claims)
    except ClaimError as exc:
        raise unauthorized("invalid_token", _sentence(exc)) from exc


def authenticate_staff(*roles: str) -> Principal:
    """A staff member with one of `roles`; any other authenticated caller gets 403."""
    principal = staff_of(verified_claims(), roles)
    ratelimit.verified("staff", principal.subject)
    return principal


def staff_of(claims: dict[str, Any], roles: tuple[str, ...] = STAFF_ROLES) -> Principal:
    """A staff member from verified claims: `sub` or `role` unusable is a 401, another role or a missing,
    empty or malformed scope claim a 403 (wallet.principals checks every role's scope the same way)."""
    try:
        role = role_claim(claims)
        if role not in STAFF_ROLES:
            raise ProblemError(403, "forbidden", T_("This function is for staff roles only."))
        if role not in roles:
            raise ProblemError(403, "forbidden", T_("The role %(role)s may not use this function.", role=role))
        return staff_principal(claims)
    except IdentityClaimError as exc:
        raise unauthorized("invalid_token", _sentence(exc)) from exc
    except ScopeClaimError as exc:
        raise ProblemError(403, "forbidden", _sentence(exc)) from exc


def _sentence(exc: ClaimError) -> str:
    text = str(exc)
    return f"{text[:1].upper()}{text[1:]}."
