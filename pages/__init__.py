"""The Streamlit pages, one thin file each (st.navigation in streamlit_app.py routes to them)."""
