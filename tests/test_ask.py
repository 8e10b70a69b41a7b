"""The ask chain end to end: real Postgres, real MiniLM embeddings, the real reranker and composer.

Two seeded videos: `store-a.mp4` (five minutes: people walking by in the first minute,
a picking then a theft near 03:10, standing and sitting later) and `store-b.mp4` (a
theft at 00:30). The LLM path uses LangChain's `GenericFakeChatModel`.
"""

from __future__ import annotations

import json
import uuid

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tests.conftest import OpenAICompatibleServer, run_cli

A_EVENTS = [
    # (track, type, t_start, t_end, zone, attributes, description)
    (1, "walking", 2.0, 8.0, "centre", {"gender": "male", "age_group": "old"},
     "An old man walks through the centre of the store."),
    (2, "walking", 10.0, 15.0, "left", {"gender": "female", "clothing_colour": "green"},
     "A woman in green walks along the left aisle."),
    (4, "walking", 20.0, 26.0, "right", {"gender": "male", "clothing_colour": "black"},
     "A man in black walks past the right shelves."),
    (5, "walking", 30.0, 35.0, "centre", {"gender": "female"}, "A woman walks by in the centre."),
    (2, "walking", 40.0, 46.0, "left", {"gender": "female", "clothing_colour": "green"},
     "The woman in green walks back along the left aisle."),
    (6, "walking", 48.0, 55.0, "exit", {"age_group": "child"}, "A child walks towards the exit."),
    (7, "walking", 50.0, 58.0, "centre", {"gender": "male", "clothing_colour": "white"},
     "A man in white walks through the centre."),
    (8, "walking", 70.0, 75.0, "right", {"gender": "male"}, "A man walks past the right side."),
    (9, "standing", 100.0, 110.0, "centre", {"gender": "female"},
     "A woman stands still in the centre, looking at her phone."),
    (3, "picking", 185.0, 188.0, "shelf", {"gender": "male", "age_group": "young", "clothing_colour": "red"},
     "A young man in a red jacket picks up a bottle from the left shelf."),
    (3, "theft", 192.4, 200.0, "shelf", {"gender": "male", "age_group": "young", "clothing_colour": "red"},
     "A young man in a red jacket hides a bottle inside his jacket and walks away without paying."),
    (10, "sitting", 250.0, 262.0, "right", {"gender": "male", "age_group": "old"},
     "An old man sits down on the bench on the right."),
]
B_EVENTS = [
    (1, "walking", 5.0, 10.0, "centre", {"gender": "female", "clothing_colour": "black"}, "A woman in black walks in."),
    (1, "theft", 30.0, 36.0, "checkout", {"gender": "female", "clothing_colour": "black"},
     "A woman in black slips a phone into her bag at the checkout without paying."),
]


def _seed_video(app, name: str, duration_s: float, rows: list[tuple]) -> dict:
    from db.repos import runs, videos
    from core.runtime.embeddings import embed_texts

    vectors = embed_texts([r[6] for r in rows], app.settings)
    with app.db.connection() as conn:
        video = videos.insert(conn, name=name, original_filename=name, sha256=None, storage_key=None, size_bytes=0,
                              meta={"duration_s": duration_s, "fps": 10.0, "width": 900, "height": 600})
        videos.update(conn, video["id"], status="completed", progress=100.0)
        tracks = {r[0]: (r[2], r[3], r[5]) for r in rows}
        runs.write_run(
            conn, video_id=video["id"], run_id=uuid.uuid4(),
            tracks=[{"track_number": n, "class_name": "person", "t_first": a, "t_last": b, "attributes": attrs}
                    for n, (a, b, attrs) in tracks.items()],
            events=[{"track_number": r[0], "type": r[1], "t_start": r[2], "t_end": r[3], "frame": int(r[2] * 10),
                     "bbox": [100.0, 100.0, 200.0, 400.0], "zone": r[4], "confidence": 0.8, "attributes": r[5],
                     "description": r[6], "keywords": [r[1]], "embedding": v} for r, v in zip(rows, vectors)],
            frame_stats=[],
        )
        ids = {(e["type"], e["t_start"]): e["id"] for e in conn.execute(
            "SELECT id, type, t_start FROM events WHERE video_id = %s", (video["id"],)).fetchall()}
    return {"video": video, "ids": ids}


@pytest.fixture(scope="module")
def store(app):
    """Both videos, seeded once for the module (the tests only add chat turns)."""
    with app.db.connection() as conn:
        conn.execute("TRUNCATE videos, analysis_jobs, tracks, events, frame_stats, zones, summaries, "
                     "chat_sessions, chat_turns RESTART IDENTITY CASCADE")
    a = _seed_video(app, "store-a.mp4", 300.0, A_EVENTS)
    b = _seed_video(app, "store-b.mp4", 120.0, B_EVENTS)
    return {"a": a, "b": b, "theft": a["ids"][("theft", 192.4)], "picking": a["ids"][("picking", 185.0)],
            "theft_b": b["ids"][("theft", 30.0)]}


@pytest.fixture(scope="module")
def service(app, store):
    from rag.ask import AskService

    return AskService(app)


def _assert_citations_are_events(app, result) -> None:
    """Every citation is a stored event of the current run and says what the row says."""
    from db.repos import events

    ids = [c["event_id"] for c in result.citations]
    with app.db.connection() as conn:
        rows = {r["id"]: r for r in events.get_many(conn, ids)}
    assert set(rows) == set(ids)
    for c in result.citations:
        row = rows[c["event_id"]]
        assert (c["type"], c["t_start"], c["t_end"], c["video_id"]) == (row["type"], row["t_start"], row["t_end"],
                                                                          str(row["video_id"]))
        assert c["description"] == row["description"] and c["video_name"] == row["video_name"]
        assert f"[E{c['event_id']}]" in result.answer


def test_theft_in_window_is_found_cited_and_windowed(app, store, service):
    result = service.ask("any theft between minute 3 and 5?", video="store-a.mp4")

    assert result.answer.splitlines()[0] == "Yes. 1 theft event between 03:00 and 05:00:"
    assert [c["event_id"] for c in result.citations] == [store["theft"]]
    citation = result.citations[0]
    assert citation["type"] == "theft" and citation["video_name"] == "store-a.mp4"
    assert citation["score"] is not None and citation["zone"] == "shelf"
    assert result.filters["event_types"] == ["theft"]
    assert (result.filters["t_from"], result.filters["t_to"]) == (180.0, 300.0)
    # one video in scope: filtered rows ranked exactly; a yes/no question counts every match from the listing
    assert result.search_method == "exact+listing"
    # the window adds the picking 4 s before the theft, in time order, and nothing far away
    context_ids = [c["event_id"] for c in result.context]
    assert context_ids == [store["picking"], store["theft"]]
    assert [c["is_hit"] for c in result.context] == [False, True]
    assert set(result.timings_ms) >= {"parse", "retrieve", "rerank", "window", "answer", "save", "total"}
    _assert_citations_are_events(app, result)


def test_nothing_in_window_says_so_plainly(app, store, service):
    result = service.ask("any theft between minute 1 and 2?", video="store-a.mp4")

    assert result.answer == "No theft events match between 01:00 and 02:00."
    assert result.citations == []


def test_count_question_counts_distinct_people_over_more_than_five_events(app, store, service):
    result = service.ask("how many people walked by in the first minute?", video="store-a.mp4")

    # 7 walking events in 00:00-01:00 by 6 people (the woman in green passes twice); the one at 01:10 is out
    assert result.answer.splitlines()[0] == "6 people walked by between 00:00 and 01:00 (7 walking events):"
    assert result.result_count == 7
    assert result.search_method.endswith("+listing")
    assert len(result.citations) == 7 and {c["type"] for c in result.citations} == {"walking"}
    assert all(c["t_start"] <= 60 for c in result.citations)
    _assert_citations_are_events(app, result)


def test_a_yes_no_question_counts_every_match_and_shows_the_reranked_first(app, store, service):
    result = service.ask("was anyone walking in the first minute?", video="store-a.mp4")

    # the 7 walks of 00:00-01:00, not the reranked top 5 (rerank_k)
    assert service.settings.rerank_k == 5
    assert result.answer.splitlines()[0] == "Yes. 7 walking events between 00:00 and 01:00:"
    assert result.result_count == 7 and result.search_method.endswith("+listing")
    assert len(result.citations) == 7 and all(c["t_start"] <= 60 for c in result.citations)
    assert sum(c["score"] is not None for c in result.citations) == 5
    _assert_citations_are_events(app, result)


def test_what_happened_before_or_after_an_event_follows_it(app, store, service):
    theft, picking = store["theft"], store["picking"]
    before = service.ask("what did the man do before the theft?", video="store-a.mp4")

    # the young man in red picked the bottle 4 s before he hid it; nobody else is followed
    assert before.answer.splitlines() == [
        f"Before the theft at 03:12–03:20 in store-a.mp4 [E{theft}], the same person within 1 min:",
        f"- 03:05–03:08 picking at the shelf, young male in red: A young man in a red jacket picks up a bottle "
        f"from the left shelf [E{picking}]"]
    assert [c["event_id"] for c in before.citations] == [theft, picking]
    assert before.search_method == "relative"
    _assert_citations_are_events(app, before)

    after = service.ask("what happened after the theft?", video="store-b.mp4")
    assert after.answer.splitlines()[1:] == ["- nothing of that was seen."]
    both = service.ask("what happened after the theft?")
    assert [line.split(" [E")[0] for line in both.answer.splitlines() if line.startswith("After")] == [
        "After the theft at 00:30–00:36 in store-b.mp4", "After the theft at 03:12–03:20 in store-a.mp4"]
    # in the minute after 03:20 in store-a, only the old man sitting down at 04:10
    sat = store["a"]["ids"][("sitting", 250.0)]
    assert both.answer.splitlines()[-1] == (
        f"- 04:10–04:22 sitting on the right, old male: An old man sits down on the bench on the right [E{sat}]")
    none = service.ask("what happened after the theft in the first minute?", video="store-a.mp4")
    assert none.answer == "No theft events match between 00:00 and 01:00, so there is nothing to look after."


def test_a_camera_named_in_the_question_keeps_to_its_videos(app, store, service):
    from db.repos import videos

    def camera(name: str, value: str | None) -> None:
        with app.db.connection() as conn:
            videos.update(conn, store[name]["video"]["id"], camera=value)

    camera("a", "Front door")
    camera("b", "till_2")
    try:
        till = service.ask("any theft on till_2?")
        assert till.answer.splitlines()[0] == "Yes. 1 theft event on camera till_2:"
        assert [c["event_id"] for c in till.citations] == [store["theft_b"]] and till.filters["camera"] == "till_2"
        front = service.ask("how many thefts were there on the front door camera?")
        assert front.answer.splitlines()[0].startswith("1 person was flagged for theft on camera Front door")
        assert [c["event_id"] for c in front.citations] == [store["theft"]]
        after = service.ask("what happened after the theft on the front door camera?")
        assert after.answer.startswith(f"After the theft at 03:12–03:20 in store-a.mp4 [E{store['theft']}]")
        assert "store-b" not in after.answer
        # a camera nobody set up is said so, not answered from every camera
        for question in ("any theft on camera till_3?", "how many thefts on till_3 camera?"):
            unknown = service.ask(question)
            assert unknown.answer == ("No camera named 'till_3' was found (the cameras are Front door, till_2), "
                                      "so nothing was searched.")
            assert unknown.citations == []
        assert service.ask("anyone on camera 7?").answer.startswith("No camera named '7' was found")
    finally:
        camera("a", None)
        camera("b", None)
    assert service.ask("any theft on camera till_3?").answer == (
        "No camera named 'till_3' was found (no video is on a camera yet), so nothing was searched.")
    assert service.ask('did anyone fall in video "nowhere.mp4"?').answer == (
        "No video named 'nowhere.mp4' was found, so nothing was searched.")


def test_longest_question_ranks_every_matching_event_by_duration(app, store, service):
    result = service.ask("which walk took the longest in the first minute?", video="store-a.mp4")

    # 7 walks in 00:00-01:00 of 5-8 s; the man in white's, 00:50-00:58, is the longest
    longest = store["a"]["ids"][("walking", 50.0)]
    assert result.answer.splitlines()[0] == (
        f"The longest of 7 walking events between 00:00 and 01:00 lasted 8 s (00:50–00:58) [E{longest}]; "
        "longest first:")
    assert result.citations[0]["event_id"] == longest and len(result.citations) == 7
    spans = [c["t_end"] - c["t_start"] for c in result.citations]
    assert spans == sorted(spans, reverse=True)
    assert result.search_method.endswith("+listing")
    _assert_citations_are_events(app, result)


def test_a_day_asked_keeps_to_the_footage_of_that_day(app, store, service):
    from datetime import datetime

    from db.repos import videos

    def recorded(name: str, at: datetime | None) -> None:
        with app.db.connection() as conn:
            videos.update(conn, store[name]["video"]["id"], recorded_at=at)

    # store-b starts 20 s before midnight: its theft at 30-36 s happens on 1 December
    recorded("a", datetime(2026, 12, 1, 10, 0))
    recorded("b", datetime(2026, 11, 30, 23, 59, 40))
    try:
        first = service.ask("any theft on 2026-12-01?")
        assert first.answer.splitlines()[0] == "Yes. 2 theft events on 2026-12-01:"
        assert {c["event_id"] for c in first.citations} == {store["theft"], store["theft_b"]}
        before = service.ask("any theft on 2026-11-30?")
        assert before.answer == "No theft events match on 2026-11-30." and before.citations == []
        # no footage at all that day: unknown, not a no
        assert service.ask("any theft on 2026-11-29?").answer == (
            "No analysed footage was recorded on 2026-11-29, so nothing could be seen then.")
        counted = service.ask("how many thefts were there on 1 December 2026?")
        assert counted.answer.splitlines()[0].startswith("2 people were flagged for theft on 2026-12-01")
        scoped = service.ask("any theft on 2026-12-01?", video="store-b.mp4")
        assert [c["event_id"] for c in scoped.citations] == [store["theft_b"]]
    finally:
        recorded("a", None)
        recorded("b", None)


def test_list_all_answers_from_every_matching_event(app, store, service):
    result = service.ask("list all events in the first minute", video="store-a.mp4")

    # the 7 walks of 00:00-01:00, not the reranked top 5
    assert result.answer.splitlines()[0] == "Found 7 walking events between 00:00 and 01:00:"
    assert len(result.citations) == 7 and result.search_method.endswith("+listing")
    _assert_citations_are_events(app, result)


def test_a_least_duration_keeps_the_events_that_long_from_every_match(app, store, service):
    result = service.ask("did anyone walk for at least 8 seconds?", video="store-a.mp4")

    # of the 8 walks (5-8 s), only the man in white's 00:50-00:58 lasts 8 s
    assert result.answer.splitlines()[0] == "Yes. 1 walking event lasting at least 8 s:"
    assert [c["event_id"] for c in result.citations] == [store["a"]["ids"][("walking", 50.0)]]
    assert result.search_method.endswith("+listing")


def test_video_scope_by_question_and_by_argument(app, store, service):
    everywhere = service.ask("did anyone steal something in the first minute?")
    assert [c["event_id"] for c in everywhere.citations] == [store["theft_b"]]
    assert everywhere.citations[0]["video_name"] == "store-b.mp4"
    # the one match among two videos says which video it is in; asked of one video, it need not
    assert everywhere.answer.splitlines()[1].startswith("- store-b.mp4 00:30"), everywhere.answer

    scoped = service.ask("did anyone steal something in the first minute?", video="store-a.mp4")
    assert scoped.citations == [] and scoped.answer.startswith("No theft events match")

    named = service.ask("any theft in video store-b.mp4?")
    assert [c["event_id"] for c in named.citations] == [store["theft_b"]]
    assert named.answer.splitlines()[1].startswith("- 00:30"), named.answer

    bare = service.ask("did anyone steal something in the first minute in store-a?")  # no extension, no "video"
    assert bare.citations == [] and bare.filters["video"] == str(store["a"]["video"]["id"])
    assert bare.filters["text"] == "did anyone steal something"

    missing = service.ask("any theft in video cam9.mp4?")
    assert missing.citations == [] and "cam9.mp4" in missing.answer

    from rag.ask import VideoNotFound

    with pytest.raises(VideoNotFound, match="No video matches 'nope.mp4'"):
        service.ask("any theft?", video="nope.mp4")
    with pytest.raises(ValueError, match="Ask a question"):
        service.ask("   ")


def test_llm_path_keeps_only_retrieved_citations(app, store):
    from rag.ask import AskService

    theft = store["theft"]
    fake = GenericFakeChatModel(messages=iter([
        # the query parser's reply, then the answer's
        AIMessage('{"event_types": ["theft"], "t_from": 180, "t_to": 300, "text": "theft", "is_yes_no": true,'
                  ' "zone_names": ["back room"]}'),  # no zone of that name is drawn: it narrows nothing
        AIMessage(f"Yes: a young man in red hid a bottle in his jacket at 03:12 [E{theft}], "
                  "and another shopper did the same [E999]."),
    ]))
    result = AskService(app, chat_model=fake).ask("did anybody shoplift between 3 and 5 minutes?",
                                                  video="store-a.mp4")

    assert f"[E{theft}]" in result.answer
    assert "E999" not in result.answer
    assert [c["event_id"] for c in result.citations] == [theft]
    assert result.filters["event_types"] == ["theft"] and result.filters["t_from"] == 180.0
    assert result.filters["zone_names"] == []
    _assert_citations_are_events(app, result)


def test_cli_ask_through_an_openai_compatible_chat_server(store):
    """SENTINEL_LLM + SENTINEL_LLM_BASE_URL: the model proposes the filters and writes the answer;
    its filters are validated, its invented citation is dropped."""
    theft = store["theft"]

    def reply_for(body: dict) -> str:
        if body.get("response_format"):  # the query parser's structured output
            return json.dumps({"event_types": ["theft"], "t_from": 150, "t_to": 300,
                               "text": "items taken from the shelves", "is_yes_no": True})
        return f"Yes: at 03:12 a young man in red hid a bottle in his jacket [E{theft}]; also [E999]."

    server = OpenAICompatibleServer(reply_for)
    try:
        result = run_cli("ask", "was anything taken off the shelves in the back half of the video?",
                         "--video", "store-a.mp4", "--json",
                         env={"SENTINEL_LLM": "openai:gpt-4o-mini", "SENTINEL_LLM_BASE_URL": server.url,
                              "OPENAI_API_KEY": "sk-test"})
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["filters"]["t_from"] == 150.0 and payload["filters"]["event_types"] == ["theft"]
    assert f"[E{theft}]" in payload["answer"] and "E999" not in payload["answer"]
    assert [c["event_id"] for c in payload["citations"]] == [theft]

    parse_call, answer_call = server.requests
    assert parse_call["path"] == answer_call["path"] == "/v1/chat/completions"
    assert parse_call["auth"] == "Bearer sk-test" and parse_call["model"] == "gpt-4o-mini"
    assert parse_call["response_format"]["type"] == "json_schema"
    prompt = json.dumps(answer_call["messages"])
    # grounded: the retrieved theft goes to the model with its id to cite
    assert f"E{theft}" in prompt and "hides a bottle inside his jacket" in prompt


def test_turns_are_saved_with_filters_method_ids_and_latency(app, store, service):
    from db.repos import chat

    first = service.ask("any theft between minute 3 and 5?", video="store-a.mp4")
    second = service.ask("how many people walked by in the first minute?", video="store-a.mp4",
                         session_id=first.session_id)
    assert second.session_id == first.session_id

    with app.db.connection() as conn:
        session = chat.get_session(conn, first.session_id)
        turns = chat.turns(conn, session["id"])
    assert session["title"] == "any theft between minute 3 and 5?"
    assert str(session["video_id"]) == str(store["a"]["video"]["id"])
    assert [t["id"] for t in turns] == [first.turn_id, second.turn_id]
    theft_turn, count_turn = turns
    assert theft_turn["question"] == "any theft between minute 3 and 5?"
    assert theft_turn["answer"] == first.answer
    assert theft_turn["filters"]["event_types"] == ["theft"] and theft_turn["filters"]["t_to"] == 300.0
    assert theft_turn["search_method"] == "exact+listing"
    assert list(theft_turn["cited_event_ids"]) == [store["theft"]]
    assert theft_turn["result_count"] == first.result_count >= 1
    assert theft_turn["latency_ms"] > 0
    assert count_turn["search_method"] == second.search_method and count_turn["result_count"] == 7
    assert list(count_turn["cited_event_ids"]) == [c["event_id"] for c in second.citations]

    with pytest.raises(LookupError, match="No chat session"):
        service.ask("any theft?", session_id=str(uuid.uuid4()))


def test_get_ask_service_is_one_per_app(app):
    from rag.ask import get_ask_service

    assert get_ask_service(app) is get_ask_service(app)


def test_cli_ask_json(store):
    result = run_cli("ask", "any theft between minute 3 and 5?", "--video", "store-a.mp4", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert {"answer", "citations", "filters", "search_method", "timings_ms"} <= set(payload)
    assert payload["answer"].startswith("Yes. 1 theft event")
    citation = payload["citations"][0]
    assert {"event_id", "video_id", "t_start", "t_end", "type", "description", "score"} <= set(citation)
    assert citation["event_id"] == store["theft"] and citation["type"] == "theft"
    assert citation["attributes"] == {"gender": "male", "age_group": "young", "clothing_colour": "red"}
    assert payload["filters"]["event_types"] == ["theft"]

    missing = run_cli("ask", "any theft?", "--video", "nope.mp4", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout) == {"error": "No video matches 'nope.mp4'; `sentinel videos` lists them."}
    assert missing.stderr.strip().count("\n") == 0 and "Traceback" not in missing.stderr


def test_cli_ask_reads_questions_from_stdin(store):
    questions = "any theft between minute 3 and 5?\n\nhow many people walked by in the first minute?\n"
    result = run_cli("ask", "-", "--video", "store-a.mp4", input=questions)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == ["any theft between minute 3 and 5?",
                                                    "how many people walked by in the first minute?"]
    assert lines[0]["citations"][0]["event_id"] == store["theft"]
    assert lines[1]["answer"].startswith("6 people walked by")
    assert lines[0]["session_id"] == lines[1]["session_id"]  # one session for the batch
