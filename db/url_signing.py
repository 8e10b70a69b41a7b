"""Signed, expiring tokens for object keys: the folder store's stand-in for S3's presigned GET URLs.

A token is `<base64 key>.<expiry>.<HMAC-SHA256 signature>`: the key cannot be changed nor the token
used past its expiry. The UI's media server (ui/media_server.py) and the API's `/media/` route
(api/media.py) serve folder-store objects behind such tokens, so no server path is ever handed out.

    >>> signer = UrlSigner(b"k" * 32)
    >>> signer.verify(signer.token("thumbnails/ab.jpg", now=0), now=60)
    'thumbnails/ab.jpg'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

EXPIRY_STEP_S = 300


class UrlSigner:
    """Signs and checks object-key tokens with one secret (default: random, so tokens die with the process)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _signature(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def token(self, key: str, *, expires_s: int = 3600, now: float | None = None) -> str:
        """A token for `key` that lives expires_s to expires_s + EXPIRY_STEP_S.

        The expiry is rounded up to EXPIRY_STEP_S, so links made within a few minutes are the same
        (a player given the same URL on a rerun does not reload).
        """
        expires = (int((time.time() if now is None else now) + expires_s) // EXPIRY_STEP_S + 1) * EXPIRY_STEP_S
        encoded = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
        return f"{encoded}.{expires}.{self._signature(key, expires)}"

    def verify(self, token: str, *, now: float | None = None) -> str | None:
        """The key a token names, or None when it is malformed, forged or expired."""
        try:
            encoded, expires_text, signature = token.split(".")
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            expires = int(expires_text)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(signature, self._signature(key, expires)):
            return None
        return key if expires >= (time.time() if now is None else now) else None
