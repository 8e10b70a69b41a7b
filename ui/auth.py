"""Sign-in for the admin app when SENTINEL_ADMIN_PASSWORD is set.

The password is hashed once per process (scrypt with a random salt) and only the hash is kept
here; a sign-in attempt is hashed the same way and compared in constant time. A signed-in
session ends after `settings.session_timeout_min` minutes without activity; a signed cookie
(ui/session_cookie.py) keeps it across a reload for as long. Failed attempts are budgeted per
client and overall (ui/sign_in_limits.py). Without a password the app is bound to 127.0.0.1
(see `sentinel serve`) and the sidebar says so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st

from ui import session_cookie
from ui.sign_in_limits import SignInLimits, wait_text

log = logging.getLogger(__name__)

_STATE = "sentinel_auth"
_SIGNED_OUT = "sentinel_signed_out"  # the browser's cookie is read once per connection: ignore it after sign-out
_COOKIE_PENDING = "sentinel_cookie_pending"  # a cookie to store (a token) or delete (None) on the next draw
LIMITS = SignInLimits()  # one budget per server process, shared by every browser session


_pause = time.sleep  # how a failed attempt is held back (tests replace it)


def _now() -> float:
    """The idle clock (monotonic, so a changed wall clock neither ends nor extends a session)."""
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """An scrypt hash of the admin password with its salt; the plain text is not kept."""

    salt: bytes
    digest: bytes

    N = 2 ** 14
    R = 8
    P = 1

    @classmethod
    def of(cls, password: str, salt: bytes | None = None) -> "PasswordHash":
        salt = salt or os.urandom(16)
        return cls(salt, cls._derive(password, salt))

    @classmethod
    def _derive(cls, password: str, salt: bytes) -> bytes:
        return hashlib.scrypt(password.encode(), salt=salt, n=cls.N, r=cls.R, p=cls.P, dklen=32)

    def matches(self, attempt: str) -> bool:
        """Constant-time comparison of the attempt's hash with ours."""
        return hmac.compare_digest(self._derive(attempt, self.salt), self.digest)


_hashes: dict[int, PasswordHash] = {}
_hashes_lock = threading.Lock()


def password_hash(settings) -> PasswordHash | None:
    """The process's hash of settings.admin_password (None when no password is set)."""
    secret = settings.admin_password
    if secret is None or not secret.get_secret_value():
        return None
    with _hashes_lock:
        # keyed by the secret object, so changed settings (tests) get their own hash
        found = _hashes.get(id(secret))
        if found is None:
            found = _hashes[id(secret)] = PasswordHash.of(secret.get_secret_value())
        return found


def _timeout_s(settings) -> float:
    return max(1, settings.session_timeout_min) * 60.0


def signed_in(settings) -> bool:
    """True when no password is required, or this session signed in and has not been idle too long."""
    if password_hash(settings) is None:
        return True
    state = st.session_state.get(_STATE) or _restore_from_cookie(settings)
    if not state:
        return False
    if _now() - state["last_seen"] > _timeout_s(settings):
        st.session_state.pop(_STATE, None)
        st.session_state[_SIGNED_OUT] = True
        st.session_state[_COOKIE_PENDING] = None
        st.session_state["sentinel_auth_notice"] = "Your session timed out; sign in again."
        return False
    state["last_seen"] = _now()
    _refresh_cookie(settings, state)
    return True


def _restore_from_cookie(settings) -> dict | None:
    """A reload (a new browser session) is still signed in while its signed cookie has not expired."""
    if st.session_state.get(_SIGNED_OUT):
        return None
    try:
        token = st.context.cookies.get(session_cookie.COOKIE)
    except Exception:  # no browser session (scripts, AppTest)
        return None
    expires = session_cookie.expires_at(settings, token if isinstance(token, str) else None)
    if expires is None:
        return None
    state = st.session_state[_STATE] = {"last_seen": _now(), "since": time.time(), "cookie_expires": expires}
    log.info("admin session restored from its cookie")
    return state


def _refresh_cookie(settings, state: dict) -> None:
    """Slide the cookie's expiry with activity, re-issuing it at most every quarter of the timeout."""
    lifetime = _timeout_s(settings)
    if state.get("cookie_expires", 0) - time.time() < 0.75 * lifetime:
        st.session_state[_COOKIE_PENDING] = session_cookie.issue(settings, lifetime_s=lifetime)
        state["cookie_expires"] = time.time() + lifetime


def _write_pending_cookie(settings) -> None:
    if _COOKIE_PENDING in st.session_state:
        token = st.session_state.pop(_COOKIE_PENDING)
        st.html(session_cookie.set_script(token, max_age_s=_timeout_s(settings)), unsafe_allow_javascript=True)


def expired() -> bool:
    """For fragments that poll: whether the session has passed its idle timeout (checked without touching it)."""
    from ui.bootstrap import get_app

    settings = get_app().settings
    if password_hash(settings) is None:
        return False
    state = st.session_state.get(_STATE)
    return not state or _now() - state["last_seen"] > _timeout_s(settings)


def client_address() -> str:
    """The browser's address as Streamlit saw it (the proxy's, behind one), or 'local'."""
    try:
        address = st.context.ip_address
    except Exception:  # no browser session (scripts)
        return "local"
    return address if isinstance(address, str) and address else "local"  # AppTest has no real client


class LockedOut(Exception):
    """Too many failed sign-ins; the message says how long to wait."""


def sign_in(settings, attempt: str, *, client: str = "local") -> bool:
    """Check a password attempt; on success the session is signed in.

    Raises:
        LockedOut: the client (or every client) used up its failure budget; not even the right
            password gets in until the wait is over.
    """
    expected = password_hash(settings)
    if expected is None:
        return True
    wait = LIMITS.wait_s(client)
    if wait > 0:
        log.warning("sign-in from %s refused: locked out for %.0f s more", client, wait)
        raise LockedOut(f"Too many failed sign-ins; try again in {wait_text(wait)}.")
    if attempt and expected.matches(attempt):
        LIMITS.succeeded(client)
        st.session_state[_STATE] = {"last_seen": _now(), "since": time.time()}
        st.session_state.pop(_SIGNED_OUT, None)
        st.session_state.pop("sentinel_auth_notice", None)
        _refresh_cookie(settings, st.session_state[_STATE])
        log.info("admin signed in from %s", client)
        return True
    delay = LIMITS.failed(client)
    log.warning("failed admin sign-in attempt from %s", client)
    _pause(delay)  # each failure answers a little later: guessing slows down, a typo hardly notices
    wait = LIMITS.wait_s(client)
    if wait > 0:
        raise LockedOut(f"Wrong password. Too many failed sign-ins; try again in {wait_text(wait)}.")
    return False


def sign_out() -> None:
    st.session_state.pop(_STATE, None)
    st.session_state[_SIGNED_OUT] = True
    st.session_state[_COOKIE_PENDING] = None


def require_sign_in() -> None:
    """Stop this page with the sign-in form unless the session is signed in; else draw the sidebar notice.

    Every page calls this first. The router checks too, but Streamlit runs a file of the
    `pages/` folder directly (without the router) until some session has called
    st.navigation, e.g. for the first request after the server starts; this closes that gap.
    """
    from ui.bootstrap import get_app
    from ui.notify import show_flash

    if _outside_router():
        _through_router(sys._getframe(1).f_globals.get("__file__"))
    settings = get_app().settings
    if not signed_in(settings):
        login_page()
        st.stop()
    sidebar(settings)
    show_flash()


_DEEP_LINK = "sentinel_deep_link"
_ROOT = Path(__file__).resolve().parents[1]


def _outside_router() -> bool:
    """True when Streamlit ran a pages/ file directly, in its legacy pages-folder mode (not under AppTest)."""
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    # the flag stays True until some session calls st.navigation; AppTest sets it on every run
    return bool(PagesManager.uses_pages_directory) and not config.get_option("global.appTest")


def _through_router(page_file: str | None) -> None:
    """Run the router once (it switches Streamlit to st.navigation for good), then come back to this page."""
    if page_file:
        st.session_state[_DEEP_LINK] = (Path(page_file).resolve().relative_to(_ROOT).as_posix(),
                                        st.query_params.to_dict())
    st.switch_page(str(_ROOT / "streamlit_app.py"))


def return_to_deep_link() -> None:
    """In the router: go on to the page a first request asked for before the router had run."""
    target = st.session_state.pop(_DEEP_LINK, None)
    if target:
        st.switch_page(target[0], query_params=target[1])


def login_page() -> None:
    """The only page of a session that has not signed in."""
    from ui.bootstrap import get_app

    settings = get_app().settings
    _remember_deep_link()
    _write_pending_cookie(settings)
    st.title("Sentinel")
    st.subheader("Sign in")
    notice = st.session_state.get("sentinel_auth_notice")
    if notice:
        st.info(notice)
    # a form with clear_on_submit keeps the typed password out of the session after the attempt
    with st.form("sign-in", clear_on_submit=True):
        attempt = st.text_input("Admin password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            if sign_in(settings, attempt, client=client_address()):
                st.rerun()
            st.error("Wrong password.")
        except LockedOut as exc:
            st.error(str(exc))


def _remember_deep_link() -> None:
    """The page and query a signed-out visitor asked for, to go on to once they sign in."""
    if _DEEP_LINK in st.session_state:
        return
    try:
        url = st.context.url
    except Exception:  # no browser session (scripts)
        return
    if not isinstance(url, str):  # AppTest
        return
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if name and name.isidentifier() and (_ROOT / "pages" / f"{name}.py").is_file():
        st.session_state[_DEEP_LINK] = (f"pages/{name}.py", st.query_params.to_dict())


def sidebar(settings) -> None:
    """Who is signed in and a sign-out button, or the notice that the app is open on this machine only."""
    _write_pending_cookie(settings)
    with st.sidebar:
        if password_hash(settings) is None:
            host = os.environ.get("SENTINEL_SERVE_HOST", "127.0.0.1")
            st.caption(f":material/lock_open: No SENTINEL_ADMIN_PASSWORD is set: Sentinel is served on "
                       f"{host} only, for this machine. Set a password to serve it to others.")
        else:
            st.caption(f":material/lock: Signed in · session ends after {settings.session_timeout_min} min idle")
            if st.button("Sign out", icon=":material/logout:", key="sign_out"):
                sign_out()
                st.rerun()
