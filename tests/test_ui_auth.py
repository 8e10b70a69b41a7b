"""Sign-in: the password is kept only as a salted scrypt hash, compared in constant time; sessions time out."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

PASSWORD = "correct horse battery staple"


def test_password_hash_is_salted_and_checks_attempts():
    from ui.auth import PasswordHash

    a, b = PasswordHash.of(PASSWORD), PasswordHash.of(PASSWORD)
    assert a.salt != b.salt and a.digest != b.digest, "a random salt each time"
    assert PASSWORD.encode() not in a.digest
    assert a.matches(PASSWORD) and not a.matches(PASSWORD + " ") and not a.matches("")


@pytest.fixture(autouse=True)
def fresh_limits(monkeypatch):
    """Each test starts with an unspent failure budget (it lives for the whole server process)."""
    import ui.auth
    from ui.sign_in_limits import SignInLimits

    monkeypatch.setattr(ui.auth, "LIMITS", SignInLimits())
    return ui.auth.LIMITS


@pytest.fixture()
def protected(app, clean_db, monkeypatch):
    monkeypatch.setattr(app.settings, "admin_password", SecretStr(PASSWORD))
    monkeypatch.setattr(app.settings, "session_timeout_min", 5)
    return app


def _router() -> AppTest:
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()


def _sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input(key="sign_in_password").set_value(password)
    return at.button[0].click().run()


def test_every_page_sits_behind_the_sign_in(protected):
    at = _router()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Sign in"]
    assert not at.dataframe and not at.metric, "no page content before signing in"
    # no other page is even registered before signing in, so no URL reaches one
    with pytest.raises(ValueError, match="Known pages: \\['Sign in'\\]"):
        at.switch_page("pages/system.py")


@pytest.mark.parametrize("page", ["system", "videos", "ask"])
def test_a_page_run_without_the_router_still_asks_to_sign_in(protected, page):
    # Streamlit runs pages/ files directly until a session has called st.navigation
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=120).run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Sign in"]
    assert not at.dataframe and not at.chat_input and not at.text_input(key="sign_in_password").value


def test_wrong_password_is_refused_right_one_lets_in_and_is_not_kept(protected):
    at = _sign_in(_router(), "guess")
    assert any("Wrong password" in e.value for e in at.error)
    assert [s.value for s in at.subheader] == ["Sign in"]
    at = _sign_in(at, PASSWORD)
    assert not at.exception
    assert at.title[0].value == "Dashboard"
    assert any("Signed in" in c.value for c in at.sidebar.caption)
    # the form was cleared: the typed password does not stay in the session
    values = [str(at.session_state[k]) for k in ("sign_in_password",) if k in at.session_state]
    assert all(PASSWORD not in v for v in values)


def test_session_times_out_after_idle_minutes(protected, monkeypatch):
    import ui.auth

    at = _sign_in(_router(), PASSWORD)
    assert at.title[0].value == "Dashboard"
    at.run()
    assert at.title[0].value == "Dashboard", "activity within the timeout keeps the session"
    later = ui.auth._now() + 6 * 60  # idle longer than the 5 minute timeout
    monkeypatch.setattr(ui.auth, "_now", lambda: later)
    at.run()
    assert [s.value for s in at.subheader] == ["Sign in"]
    assert any("timed out" in i.value for i in at.info)


def test_sign_out(protected):
    at = _sign_in(_router(), PASSWORD)
    at.sidebar.button(key="sign_out").click().run()
    assert [s.value for s in at.subheader] == ["Sign in"]


def test_without_a_password_the_sidebar_says_local_only(app, clean_db):
    at = _router()
    assert not at.exception
    assert any("127.0.0.1" in c.value and "SENTINEL_ADMIN_PASSWORD" in c.value for c in at.sidebar.caption)


def test_failed_sign_ins_slow_down_then_lock_out_even_the_right_password(protected, monkeypatch, caplog):
    import ui.auth

    slept: list[float] = []
    monkeypatch.setattr(ui.auth, "_pause", slept.append)
    clock = [1000.0]
    ui.auth.LIMITS.clock = lambda: clock[0]
    at = _router()
    with caplog.at_level("WARNING", logger="ui.auth"):
        for _ in range(4):
            at = _sign_in(at, "guess")
            assert any(e.value == "Wrong password." for e in at.error)
        at = _sign_in(at, "guess")  # the fifth failure in the window locks this client out
    assert slept == sorted(slept) and slept[-1] > slept[0], "each failure is answered a little later"
    assert caplog.text.count("failed admin sign-in attempt from local") == 5
    assert any("try again in 30 seconds" in e.value for e in at.error)
    at = _sign_in(at, PASSWORD)
    assert any("Too many failed sign-ins; try again in 30 seconds." == e.value for e in at.error)
    assert [s.value for s in at.subheader] == ["Sign in"], "not even the right password during a lock-out"
    clock[0] += 31
    at = _sign_in(at, PASSWORD)
    assert at.title[0].value == "Dashboard"


def test_failure_budgets_per_client_and_overall():
    from ui.sign_in_limits import SignInLimits, wait_text

    clock = [0.0]
    limits = SignInLimits(per_client=3, overall=8, lock_s=10, max_lock_s=25, clock=lambda: clock[0])
    for _ in range(3):
        limits.failed("a")
    assert limits.wait_s("a") == 10 and limits.wait_s("b") == 0, "one client's lock-out is its own"
    clock[0] += 11
    for _ in range(3):
        limits.failed("a")
    assert limits.wait_s("a") == 20, "a second lock-out lasts twice as long"
    clock[0] += 21
    limits.failed("c")
    limits.failed("d")  # eight failures from any clients in the window: everyone waits
    assert limits.wait_s("e") > 0 and limits.wait_s("a") > 0
    clock[0] += 60 * 60
    assert limits.wait_s("e") == 0
    limits.succeeded("a")
    assert limits.wait_s("a") == 0
    assert wait_text(29.2) == "30 seconds" and wait_text(300) == "5 minutes"


def test_session_cookie_is_signed_expires_and_ends_with_a_new_password(protected, tmp_path):
    from ui import session_cookie

    settings = protected.settings.model_copy(update={"data_dir": tmp_path})
    token = session_cookie.issue(settings, lifetime_s=300, now=1000.0)
    assert session_cookie.expires_at(settings, token, now=1200.0) == 1300.0
    assert session_cookie.expires_at(settings, token, now=1301.0) is None, "expired"
    expires, _, mac = token.partition(".")
    assert session_cookie.expires_at(settings, f"{int(expires) + 3600}.{mac}", now=1200.0) is None, "tampered"
    assert session_cookie.expires_at(settings, "garbage", now=1200.0) is None
    other = settings.model_copy(update={"admin_password": SecretStr("a new password")})
    assert session_cookie.expires_at(other, token, now=1200.0) is None, "a new password ends every session"
    assert (tmp_path / "secrets" / "session.key").stat().st_mode & 0o077 == 0, "the key is private"


def test_a_valid_cookie_signs_a_new_browser_session_in_until_sign_out(protected, monkeypatch):
    from ui import session_cookie

    token = session_cookie.issue(protected.settings, lifetime_s=300)
    monkeypatch.setattr(type(__import__("streamlit").context), "cookies",
                        property(lambda self: {session_cookie.COOKIE: token}))
    at = _router()
    assert at.title[0].value == "Dashboard", "a reload keeps the sign-in"
    at.sidebar.button(key="sign_out").click().run()
    assert [s.value for s in at.subheader] == ["Sign in"], "the cookie no longer counts after sign-out"
