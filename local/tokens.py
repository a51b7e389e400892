"""HS256 tokens for the local stack, standing in for the Cognito JWT authorizer."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import jwt

DEFAULT_SECRET = "segshare-local-dev-secret"
# API.md fixes the default secret; its length is not ours to choose.
warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)
ISSUER = "segshare-local"


def secret() -> str:
    return os.environ.get("SEGSHARE_JWT_SECRET", DEFAULT_SECRET)


def mint(sub: str, *, groups: list[str] | None = None, ttl_seconds: int = 7 * 24 * 3600, key: str | None = None) -> str:
    claims: dict[str, Any] = {"sub": sub, "iss": ISSUER, "iat": int(time.time()), "exp": int(time.time()) + ttl_seconds}
    if groups:
        claims["cognito:groups"] = groups
    return jwt.encode(claims, key or secret(), algorithm="HS256")


class InvalidToken(Exception):
    pass


def verify(authorization: str | None) -> dict[str, Any]:
    """Claims of a valid ``Bearer`` token: HS256 with the local secret, ``exp`` checked when present."""
    if not authorization or not authorization.startswith("Bearer "):
        raise InvalidToken("missing bearer token")
    try:
        claims: dict[str, Any] = jwt.decode(
            authorization.removeprefix("Bearer ").strip(),
            secret(),
            algorithms=["HS256"],
            options={"require": ["sub"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return claims


def as_api_gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway's HTTP API hands them to Lambda: strings, arrays as ``[a b]``."""
    out = {}
    for key, value in claims.items():
        if isinstance(value, list):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        else:
            out[key] = str(value)
    return out
