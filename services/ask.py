"""Questions and chat sessions: one ask for the UI, the API and the CLI, its video resolved once."""

from __future__ import annotations

from uuid import UUID

from db.repos import chat


def ask(app, *, question: str, video: str | UUID | None = None, session_id: UUID | str | None = None):
    """Answer a question (AskResult), scoped to a video id or name when given (VideoNotFound otherwise).

    The ask chain resolves the scope once, with the question's own video names, and hands the
    row to the retriever: one lookup, one message.
    """
    from rag.ask import get_ask_service

    # one service per App: models and the chain load on the first question only
    return get_ask_service(app).ask(question, video=str(video) if video else None, session_id=session_id)


def warm_up(app) -> None:
    """Load the question models now, so the first question does not wait for them."""
    from rag.ask import get_ask_service

    get_ask_service(app).warm_up()


def chat_sessions(app, *, limit: int = 50) -> list[dict]:
    with app.db.connection() as conn:
        return chat.list_sessions(conn, limit)


def chat_turns(app, *, session_id: UUID | str) -> list[dict]:
    with app.db.connection() as conn:
        return chat.turns(conn, UUID(str(session_id)))


def get_chat_session(app, *, session_id: UUID | str | None) -> dict | None:
    if not session_id:
        return None
    with app.db.connection() as conn:
        return chat.get_session(conn, session_id)


def rename_chat(app, *, session_id: UUID | str, title: str) -> dict | None:
    with app.db.connection() as conn:
        return chat.rename_session(conn, UUID(str(session_id)), title)


def ask_frame(app, *, video_id: UUID | str, t: float, question: str):
    """Answer a question about one moment of a video (FrameAnswer): who is there, where, doing what."""
    from rag.frame_chat import FrameChat

    return FrameChat(app).ask(video_id, t, question)
