"""The health report as a Streamlit table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from health import run_checks


def render_health(app) -> None:
    checks = run_checks(app)
    failed = [c for c in checks if not c.ok]
    if failed:
        st.error(f"{len(failed)} component(s) need attention: " + ", ".join(c.component for c in failed))
    else:
        st.success("Every component is healthy.")
    st.dataframe(
        pd.DataFrame([{"status": "OK" if c.ok else "FAIL", "component": c.component, "detail": c.detail}
                      for c in checks]),
        hide_index=True, width="stretch",
    )
