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
