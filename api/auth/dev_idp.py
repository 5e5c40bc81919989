"""A local stand-in for the national identity provider, for development and tests only.

Its ES256 key lives in instance/dev-idp-key.pem (made on first use, 0600). Settings refuse it in
production: `Settings.dev_idp_enabled` is false there whatever the environment says.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wallet.config import ConfigError, Settings

KID = "dev-idp-1"


def _key_path(settings: Settings) -> Path:
    return settings.instance_path / "dev-idp-key.pem"


def private_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    if not settings.dev_idp_enabled:
        raise ConfigError("the development identity provider is disabled in this configuration")
    path = _key_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return loaded


def jwks(settings: Settings) -> dict[str, Any]:
    public = jwt.algorithms.ECAlgorithm.to_jwk(private_key(settings).public_key(), as_dict=True)
    public.update(kid=KID, alg="ES256", use="sig")
    return {"keys": [public]}


def issue_token(settings: Settings, subject: str, claims: dict[str, Any] | None = None,
                lifetime: dt.timedelta = dt.timedelta(hours=1)) -> str:
    now = dt.datetime.now(dt.UTC)
    payload = {"iss": settings.idp_issuer, "aud": settings.idp_audience, "sub": subject,
               "iat": now, "nbf": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **(claims or {})}
    return jwt.encode(payload, private_key(settings), algorithm="ES256", headers={"kid": KID})


def jwks_json(settings: Settings) -> str:
    return json.dumps(jwks(settings))
