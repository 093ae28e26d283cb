"""Encryption of off-chain records at rest (AES-256-GCM from `cryptography`)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from creditshare.core.exceptions import CreditShareError

NONCE_BYTES = 12


class DecryptionError(CreditShareError):
    """Raised when a stored record cannot be decrypted (wrong key or tampered ciphertext)."""


class RecordCipher:
    """Seals records with AES-256-GCM; `aad` binds a ciphertext to its row so rows cannot be swapped."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("record encryption key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """nonce ‖ ciphertext ‖ tag."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise DecryptionError("record cannot be decrypted: wrong key or tampered data") from exc

    def __repr__(self) -> str:
        return "RecordCipher(<key hidden>)"
