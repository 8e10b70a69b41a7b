"""AppTest renders the System page (health, models, job queue) through the router."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def test_system_page_renders_health(database):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/system.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "System"
    table = at.dataframe[0].value
    assert "database" in set(table["component"])
    assert table.set_index("component").loc["database", "status"] == "OK"


def test_router_starts(database):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
