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


def test_models_in_use_names_the_runtimes():
    from settings import Settings
    from ui.health import models_in_use

    rows = {r["role"]: r["in use"] for r in models_in_use(Settings(SENTINEL_SSD_BACKEND="opencv",
                                                                   SENTINEL_DETECT_TILES=1))}
    assert rows["detection"] == "SSD-MobileNet v2 COCO on OpenCV DNN, 1 view(s) a frame"
    assert "runtime auto" in rows["text embedding"] and "384 dims" in rows["text embedding"]
    rows = {r["role"]: r["in use"] for r in models_in_use(Settings())}
    assert rows["detection"].startswith("SSD-MobileNet v2 COCO on OpenVINO")  # openvino is a dependency
