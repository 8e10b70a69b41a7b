"""A signed session cookie, so a reload keeps the sign-in until the idle timeout.

The cookie holds only an expiry time and an HMAC of it. Its key is a random secret kept in the
data folder (0600) mixed with the admin password, so a restart keeps sessions and a new password
ends them all.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from pathlib import Path

COOKIE = "sentinel_session"


def _secret_file(settings) -> Path:
    return Path(settings.data_dir) / "secrets" / "session.key"


def _key(settings) -> bytes:
    path = _secret_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    password = settings.admin_password.get_secret_value().encode() if settings.admin_password else b""
    return hmac.new(path.read_bytes(), password, hashlib.sha256).digest()


def issue(settings, *, lifetime_s: float, now: float | None = None) -> str:
    """A token valid for `lifetime_s` seconds from now."""
    expires = int((now if now is not None else time.time()) + lifetime_s)
    mac = hmac.new(_key(settings), str(expires).encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def expires_at(settings, token: str | None, *, now: float | None = None) -> float | None:
    """The token's expiry (epoch seconds) when it is ours and still valid, else None."""
    if not token or "." not in token:
        return None
    expires, _, mac = token.partition(".")
    if not expires.isdigit():
        return None
    good = hmac.new(_key(settings), expires.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(good, mac) or int(expires) <= (now if now is not None else time.time()):
        return None
    return float(expires)


def set_script(token: str | None, *, max_age_s: float) -> str:
    """The script that stores (or, with None, deletes) the cookie in the browser."""
    value, age = (token, int(max_age_s)) if token else ("", 0)
    return (f"<script>document.cookie = '{COOKIE}={value}; Max-Age={age}; Path=/; SameSite=Strict'"
            f" + (location.protocol === 'https:' ? '; Secure' : '');</script>")
