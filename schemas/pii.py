"""Personal data on the event log: sealed with a per-customer key.

Names, e-mails, phones and card numbers never travel in clear text. Each is a
``Sealed`` value: AES-256-GCM ciphertext under a key that belongs to one
customer, bound to that customer's id. Erasing a customer means destroying
the key (crypto-shredding): the log is never rewritten, and what it holds
for that customer becomes unreadable.

Identifiers that must be matched across customers (e-mail, phone, card) also
carry a ``fingerprint``: a keyed HMAC of the normalized value under a
pipeline-wide secret (the pepper), so identity resolution can join on it
without reading the value.

May import: pydantic, cryptography, stdlib.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from typing import Literal, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import Field

from schemas.envelope import Frozen

IdentifierKind = Literal["email", "phone", "card"]

_B64 = r"^[A-Za-z0-9+/]+={0,2}$"


class Sealed(Frozen):
    """A personal-data value encrypted under its customer's key."""

    alg: Literal["A256GCM"] = Field("A256GCM", description="Encryption algorithm.")
    key_id: str = Field(min_length=1, max_length=80, description="Id of the customer key.")
    nonce: str = Field(pattern=_B64, description="Base64 96-bit GCM nonce.")
    ciphertext: str = Field(pattern=_B64, description="Base64 ciphertext with GCM tag.")
    fingerprint: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{32}$",
        description="Keyed HMAC of the normalized identifier, for matching without reading.",
    )


class KeyVault(Protocol):
    """Where per-customer data keys live. Destroying a key erases the customer."""

    def key(self, key_id: str) -> bytes | None:
        """The key, or None when it was never made or has been destroyed."""
        ...

    def key_or_create(self, key_id: str) -> bytes:
        """The key, made on first use."""
        ...

    def destroy(self, key_id: str) -> None:
        """Forget the key for good."""
        ...


class InMemoryKeyVault:
    """A vault for tests and one-shot runs: keys die with the process."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._destroyed: set[str] = set()

    def key(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def key_or_create(self, key_id: str) -> bytes:
        if key_id in self._destroyed:
            raise PermissionError(f"key {key_id!r} was destroyed (customer erased)")
        return self._keys.setdefault(key_id, AESGCM.generate_key(bit_length=256))

    def destroy(self, key_id: str) -> None:
        self._keys.pop(key_id, None)
        self._destroyed.add(key_id)


def normalize_identifier(kind: IdentifierKind, value: str) -> str:
    """The canonical spelling of an identifier, so equal ones fingerprint equally."""
    value = value.strip()
    if kind == "email":
        return value.lower()
    digits = re.sub(r"\D", "", value)
    if kind == "phone":
        return ("+" if value.startswith("+") else "") + digits
    return digits


def customer_key_id(customer_id: str) -> str:
    """Key id for a customer's data key (one key per customer, version 1)."""
    return f"{customer_id}#1"


class PiiSealer:
    """Seals and opens personal data for one pipeline (one pepper, one vault)."""

    def __init__(self, vault: KeyVault, pepper: bytes) -> None:
        if len(pepper) < 8:
            raise ValueError("the PII pepper must be at least 8 bytes")
        self._vault = vault
        self._pepper = pepper

    def fingerprint(self, kind: IdentifierKind, value: str) -> str:
        """Keyed hash of an identifier; equal identifiers give equal fingerprints."""
        message = f"{kind}:{normalize_identifier(kind, value)}".encode()
        return hmac.new(self._pepper, message, hashlib.sha256).hexdigest()[:32]

    def seal(
        self, customer_id: str, value: str, identifier: IdentifierKind | None = None
    ) -> Sealed:
        """Encrypt ``value`` under the customer's key (made on first use)."""
        key_id = customer_key_id(customer_id)
        nonce = os.urandom(12)
        cipher = AESGCM(self._vault.key_or_create(key_id))
        ciphertext = cipher.encrypt(nonce, value.encode(), customer_id.encode())
        return Sealed(
            key_id=key_id,
            nonce=base64.b64encode(nonce).decode(),
            ciphertext=base64.b64encode(ciphertext).decode(),
            fingerprint=self.fingerprint(identifier, value) if identifier else None,
        )

    def open(self, customer_id: str, sealed: Sealed) -> str | None:
        """The clear text, or None when the customer's key is gone (erased)."""
        key = self._vault.key(sealed.key_id)
        if key is None:
            return None
        nonce = base64.b64decode(sealed.nonce)
        data = AESGCM(key).decrypt(nonce, base64.b64decode(sealed.ciphertext), customer_id.encode())
        return data.decode()
