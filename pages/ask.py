"""Ask: questions in plain language about all videos or one; answers cite their events as cards."""

import streamlit as st

from ui import data
from ui.auth import require_sign_in
from ui.bootstrap import get_app
from ui.chat import SESSION, from_result, remember_timings, render_turn, saved_turns, sessions_sidebar, warm_up

require_sign_in()

app = get_app()
warm_up(app)
st.title("Ask")
sessions_sidebar(app)

choices = data.video_choices(app)
scope = st.selectbox("Search in", ["", *choices], format_func=lambda v: choices.get(v, "All videos"),
                     key="ask_scope")

session_id = st.session_state.get(SESSION)
if session_id and data.get_chat_session(app, session_id=session_id) is None:
    st.session_state.pop(SESSION, None)  # deleted meanwhile: the next question starts a new chat
    session_id = None
turns = saved_turns(app, session_id) if session_id else []
if not turns:
    st.caption('Try "any theft between minute 3 and 5?", "was anyone here after 10 pm?", "which camera had the '
               'most thefts?", "did anyone collapse yesterday?", "what did the thief do after the theft?" or '
               '"summarise today"')
for turn in turns:
    render_turn(app, turn, key="turn")

question = st.chat_input("Ask about the footage", key="ask_input")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        try:
            with st.spinner("Searching the events..."):
                result = data.ask(app, question=question, video=scope or None, session_id=session_id)
        except (ValueError, data.VideoNotFound, LookupError) as exc:
            st.warning(str(exc))
            st.stop()
    st.session_state[SESSION] = result.session_id
    remember_timings(from_result(question, result))
    st.rerun()  # the new turn renders from the saved session, with its cards
