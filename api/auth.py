"""API keys: every API request names one in ``X-API-Key`` or ``Authorization: Bearer``.

Keys come from the deployment's settings (``TOUCHPOINT_API_KEYS``, passed in by the
composition root). A request with no key, or a key that is not one of them, is
refused with 401 and says which it was; keys are compared in constant time.
``/health``, ``/openapi.json`` and the dashboard's static files need no key (the
dashboard's own API calls do).

May import: fastapi, api, stdlib.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Annotated

from fastapi import HTTPException, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

API_KEY_HEADER = "X-API-Key"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="touchpoint"'}

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="ApiKey",
    description="One of the keys in TOUCHPOINT_API_KEYS.",
)
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="The same key as a bearer token: `Authorization: Bearer KEY`.",
)


class KeyCheck:
    """A FastAPI dependency that lets through requests carrying one of ``keys``."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys or not all(keys):
            raise ValueError("at least one API key, and no empty key, is needed")
        self._keys = tuple(key.encode() for key in keys)

    def __call__(
        self,
        api_key: Annotated[str | None, Security(api_key_header)] = None,
        token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    ) -> None:
        given = api_key or (token.credentials if token is not None else None)
        if not given:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"missing API key: send it in the {API_KEY_HEADER} header "
                "(or as Authorization: Bearer KEY)",
                headers=_CHALLENGE,
            )
        offered = given.encode()
        # Compare with every key (no early exit), so timing says nothing about which matched.
        matches = [hmac.compare_digest(offered, key) for key in self._keys]
        if not any(matches):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid API key", headers=_CHALLENGE)
