"""Opaque list cursors, signed so that they only work for the caller and query that made them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from lambda_app.domain.errors import InvalidCursor

MAX_CURSOR_LENGTH = 512
_MAC_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, caller_id: str, query: str, position: str) -> str:
        payload = json.dumps([caller_id, query, position], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, cursor: str, caller_id: str, query: str) -> str:
        """The position inside the list; InvalidCursor if altered, foreign or for another query."""
        invalid = InvalidCursor("The cursor is invalid, or was issued for another caller or query")
        if len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
            raise invalid
        body, mac = cursor.split(".")
        try:
            payload, signature = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError):
            raise invalid from None
        if not hmac.compare_digest(signature, self._mac(payload)):
            raise invalid
        # Only the one canonical spelling: base64 decoding skips stray characters and padding.
        if f"{_b64(payload)}.{_b64(signature)}" != cursor:
            raise invalid
        owner, issued_for, position = json.loads(payload)
        if owner != caller_id or issued_for != query:
            raise invalid
        return str(position)
