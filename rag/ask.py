"""The ask path: question -> filters -> hybrid retrieval -> rerank -> window -> answer -> saved turn.

Built as one LCEL chain:

    parse
    | RunnableParallel(evidence=retrieve | rerank | window, listing=listing)
    | answer
    | save

- parse: `LLMQueryParser` when SENTINEL_LLM is set, else `parse_question`; a video scope
  (`--video`, or a video the question names) is resolved to its id and "the last N
  seconds" to a window of that video.
- retrieve: `HybridRetriever`, top `settings.retrieve_k` (30); rerank: top
  `settings.rerank_k` (5); window: each hit's video events within +-`settings.window_s`.
- listing: count questions ("how many people walked by in the first minute?"),
  longest/shortest questions ("who loitered the longest?") and "list all ..." need every
  matching event, not the top 5, so they are answered from a direct filtered listing of the
  events table (longest or shortest first for the second).
- tally: questions about people in and out, dwell or distinct people ("how many people came
  in?", "how long did people stay at the checkout?") are answered from counts over the person
  tracks and zones (`rag.tally`), not from events.
- answer: `GroundedComposer` offline, `LLMAnswerGenerator` with a chat model; any
  citation of an event that was not retrieved is dropped in code.
- save: the turn (question, answer, filters, search method, cited ids, result count,
  latency) in a chat session.

Example:
    >>> result = get_ask_service(app).ask("any theft between minute 3 and 5?")
    >>> result.answer.splitlines()[0], result.citations[0]["event_id"]
    ('Yes. 1 theft event between 03:00 and 05:00:', 42)
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnableParallel

from core.clock import format_mmss
from core.errors import VideoNotFound
from core.vocabulary import PERSON, STAFF_KIND
from rag.answer import (AnswerGenerator, colours_of_people, colours_seen_note, event_id, keep_valid_citations,
                        nobody_seen_note, ranked)
from rag.scope import on_the_wall_clock, read_clock, unrecorded, videos_in_scope
from rag.query import QueryFilters, contradicts, parse_question
from rag.summaries import SUMMARY_REQUEST
from rag.tally import no_staff_area, question_kind

log = logging.getLogger(__name__)

LISTING_LIMIT = 5000  # events a count question may count; far beyond one store's busy hour
SESSION_TITLE_CHARS = 80
_NO_LOOKS = {"genders": [], "age_groups": [], "colours": []}  # filters without the person facets
CITATION_KEYS = ("event_id", "video_id", "video_name", "t_start", "t_end", "type", "description", "zone", "score",
                 "highlight_key", "attributes", "at", "clock")


@dataclass
class AskResult:
    """One answered question, with everything the UI, API and CLI show.

    `citations` are the cited events (event_id, video_id, video_name, t_start, t_end,
    type, description, zone, score, highlight_key, attributes), in citation order; `score` is the
    reranker's, None for an event that was cited without being reranked (a count
    question's listing, a neighbour from the window). `context` holds the windowed
    events around the top hits, by video and time, each with `is_hit`.
    """

    answer: str
    citations: list[dict] = field(default_factory=list)
    context: list[dict] = field(default_factory=list)
    filters: dict = field(default_factory=dict)
    search_method: str = ""
    timings_ms: dict = field(default_factory=dict)
    session_id: str | None = None
    turn_id: int | None = None
    result_count: int = 0

    def as_json(self) -> dict:
        """The CLI / API contract: {answer, citations, filters, search_method, timings_ms, ...}."""
        return {
            "answer": self.answer,
            "citations": self.citations,
            "filters": self.filters,
            "search_method": self.search_method,
            "timings_ms": self.timings_ms,
            "result_count": self.result_count,
            "session_id": self.session_id,
            "turn_id": self.turn_id,
        }

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(name: str, fn: Callable[[dict], Any], *,
           timings_of: Callable[[dict], dict] = lambda state: state["timings"]) -> RunnableLambda:
    """A chain step that records its wall time (ms) in the call's timings dict."""

    def run(state: dict) -> Any:
        start = time.perf_counter()
        try:
            return fn(state)
        finally:
            timings_of(state)[name] = round((time.perf_counter() - start) * 1000, 1)

    return RunnableLambda(run, name=name)


def _doc_summary(doc: Document) -> dict:
    meta = doc.metadata
    return {
        "event_id": event_id(doc), "video_id": str(meta.get("video_id")) if meta.get("video_id") else None,
        "video_name": meta.get("video_name"), "t_start": meta.get("t_start"), "t_end": meta.get("t_end"),
        "type": meta.get("type"), "description": doc.page_content, "zone": meta.get("zone"),
        "highlight_key": meta.get("highlight_key"), "track_number": meta.get("track_number"),
        "confidence": meta.get("confidence"), "attributes": dict(meta.get("attributes") or {}),
        "at": f"{meta['starts_at']:%Y-%m-%d %H:%M:%S}" if meta.get("starts_at") else None,
        "clock": meta.get("clock_from"),
    }


def _score(doc: Document) -> float | None:
    """The reranker's score; None for events cited from the count listing or the window (not reranked)."""
    score = doc.metadata.get("rerank_score")
    return round(float(score), 4) if score is not None else None


class AskService:
    """Answers questions about the stored events; build once per App (`get_ask_service`).

    Models (embeddings, reranker, chat model) load on first use and stay loaded.

    Args:
        app: the `bootstrap.App`.
        chat_model: a LangChain chat model for parsing and answering; default: the one
            named by SENTINEL_LLM (None: rule parser and grounded composer).
        query_parser: replaces the question parser (a callable question -> QueryFilters).
        reranker: replaces the reranker (`rag.rerank.Reranker`).
        generator: replaces the answer generator (`rag.answer.AnswerGenerator`).
    """

    def __init__(self, app, *, chat_model: Any = None, query_parser: Callable[[str], QueryFilters] | None = None,
                 reranker: Any = None, generator: AnswerGenerator | None = None) -> None:
        self.app = app
        self.settings = app.settings
        self._chat_model = chat_model
        self._query_parser = query_parser
        self._reranker = reranker
        self._generator = generator
        self._lock = threading.Lock()  # the UI's threads may ask at once: build the chain once

    # -- models, loaded once -------------------------------------------------

    @cached_property
    def chat_model(self) -> Any:
        from rag.models import get_chat_model

        return self._chat_model if self._chat_model is not None else get_chat_model(self.settings)

    @cached_property
    def query_parser(self) -> Callable[[str], QueryFilters]:
        if self._query_parser is not None:
            return self._query_parser
        zone = self.settings.zone

        def by_rule(question: str) -> QueryFilters:
            return parse_question(question, today=datetime.now(zone).date())  # "today" on the store's clock

        if self.chat_model is not None:
            from rag.query import LLMQueryParser

            return LLMQueryParser(self.chat_model, fallback=by_rule)
        return by_rule

    @cached_property
    def retriever(self):
        from core.runtime.embeddings import get_embeddings
        from rag.retriever import HybridRetriever

        return HybridRetriever(db=self.app.db, embeddings=get_embeddings(self.settings), k=self.settings.retrieve_k,
                               ef_search=self.settings.ef_search)

    @cached_property
    def reranker(self):
        from rag.models import get_reranker

        return self._reranker if self._reranker is not None else get_reranker(self.settings)

    @cached_property
    def generator(self) -> AnswerGenerator:
        from rag.answer import GroundedComposer, LLMAnswerGenerator

        if self._generator is not None:
            return self._generator
        return LLMAnswerGenerator(self.chat_model) if self.chat_model is not None else GroundedComposer()

    def warm_up(self) -> None:
        """Load every model now (the CLI's `ask -` and the UI call it once)."""
        with self._lock:
            self.query_parser, self.retriever, self.reranker, self.generator  # noqa: B018 - loads them
            self.retriever.embeddings.embed_query("warm up")

    @cached_property
    def chain(self):
        """The LCEL chain: parse | (retrieve | rerank | window, listing) | answer | save.

        Every step takes the call's state dict and returns it with its own keys added;
        the listing runs beside retrieval since it needs only the filters.
        """
        evidence = (_timed("retrieve", self._retrieve) | _timed("rerank", self._rerank)
                    | _timed("window", self._window))
        return (
            _timed("parse", self._parse)
            | RunnableParallel(evidence=evidence, listing=_timed("listing", self._listing))
            | _timed("answer", self._answer, timings_of=lambda joined: joined["evidence"]["timings"])
            | RunnableLambda(self._save, name="save")
        )

    # -- public --------------------------------------------------------------

    def ask(self, question: str, *, video: str | None = None, session_id: UUID | str | None = None) -> AskResult:
        """Answer one question, cite the events it rests on, and save the turn.

        Args:
            question: plain language, e.g. "any theft between minute 3 and 5?".
            video: a video id or name to search in (default: every video, or the one the
                question names).
            session_id: the chat session to add the turn to; None starts a new session.

        Raises:
            ValueError: empty question.
            VideoNotFound: `video` names no video.
            LookupError: `session_id` names no session.
        """
        question = (question or "").strip()
        if not question:
            raise ValueError("Ask a question, e.g. \"any theft between minute 3 and 5?\".")
        if session_id is not None:
            self._check_session(session_id)  # fail before the search, not after it
        with self._lock:
            chain = self.chain
        return chain.invoke({"question": question, "video": video, "session_id": session_id,
                             "timings": {}, "started": time.perf_counter()})

    def _check_session(self, session_id: UUID | str) -> None:
        from db.repos import chat

        with self.app.db.connection() as conn:
            if chat.get_session(conn, session_id) is None:
                raise LookupError(f"No chat session {session_id}; start a new one.")

    # -- steps ---------------------------------------------------------------

    def _parse(self, state: dict) -> dict:
        """Filters for the question, with the video scope resolved to its row (or why it cannot be)."""
        from db.repos import videos
        from rag.query import COMPARE
        from rag.terms import camera_asked, camera_mention, camera_mentions

        question, named, camera, cameras, missing = state["question"], None, None, [], None
        versus, several = None, ([], question)
        if not state["video"]:
            # "what happened in fighting1?", "on the till camera": stored names, read before their words become filters
            with self.app.db.connection() as conn:
                named, versus, several = _videos_asked(question, videos.named_in(conn, question))
                cameras = videos.cameras_named_in(conn, question)
                camera = None if named or several[0] else camera_mention(question, cameras)
                asked = None if named or camera or several[0] else camera_asked(question)
                if asked:  # "on camera till_3" with no such camera: searching every camera would mislead
                    known = videos.camera_names(conn)
                    missing = (f"No camera named {asked!r} was found (the cameras are {', '.join(known)}), so "
                               "nothing was searched." if known else
                               f"No camera named {asked!r} was found (no video is on a camera yet), so nothing "
                               "was searched.")
        compared = camera and re.search(COMPARE, question, re.IGNORECASE)
        first = compared and camera_mention(question[:compared.start()], cameras)
        others, rest = camera_mentions(question[compared.end():], [c for c in cameras if c != first[0]]) \
            if first else ([], "")
        if others:  # "more thefts on the front door camera than on till_2 (or back)?": the one before "than" is asked
            camera = first[0], f"{first[1]} {compared.group(0)} {rest}"
        known = state["video"] or (str(named[0]["id"]) if named else None)
        video = None
        if known:  # looked up once: its zones are read in the question, then it scopes the search
            with self.app.db.connection() as conn:
                video = videos.find(conn, str(known))
            if video is None and state["video"]:
                raise VideoNotFound(state["video"])
        asked_text = named[1] if named else several[1] if several[0] else camera[1] if camera else question
        filters, drawn = self._parse_with_zones(asked_text, video_id=video["id"] if video else None,
                                                camera=camera[0] if camera else None)
        if not missing and (filters.role == "staff" or "staff" in filters.zones) and STAFF_KIND not in {
                kind for _, kind in drawn}:
            where = " for this video" if video else f" for the camera {camera[0]}" if camera else ""
            missing = no_staff_area(where, searched=True)
        if camera:
            filters = filters.model_copy(update={"camera": camera[0], "compare_cameras": others})
        if versus:
            filters = filters.model_copy(update={"compare_video": str(versus["id"])})
        if several[0]:
            filters = filters.model_copy(update={"videos": [str(v["id"]) for v in several[0]]})
        wanted = known or filters.video
        if wanted and video is None:  # the video the parser read ("in vtest.avi")
            with self.app.db.connection() as conn:
                video = videos.find(conn, str(wanted))
        if video is not None:
            # "the last minute" becomes a window of this video
            filters = filters.model_copy(update={"video": str(video["id"])}).resolve(video["duration_s"])
        if wanted and video is None:
            missing = f"No video named {str(wanted)!r} was found, so nothing was searched."
        # "summarise fighting1" wants the video's summary; "summarise the thefts" still lists thefts
        summary = bool(re.search(SUMMARY_REQUEST, state["question"], re.IGNORECASE)) and not filters.event_types
        kind = question_kind(state["question"], filters)
        if not filters.relation:  # a count over footage known only by its upload time keeps hh:mm in the footage
            with self.app.db.connection() as conn:
                filters = read_clock(conn, state["question"], filters, video, beyond_footage=not kind)
        return {**state, "filters": filters, "video_row": video, "tally": kind,
                "summary": summary, "missing": missing}

    def _parse_with_zones(self, question: str, *, video_id=None, camera: str | None = None
                          ) -> tuple[QueryFilters, list[tuple[str, str]]]:
        """The parser's filters, with the drawn zones of the footage asked about ("at the drinks shelf") read first,
        and those zones (name, kind)."""
        from db.repos import zones
        from rag.terms import parse_with_zones

        with self.app.db.connection() as conn:
            drawn = zones.names_and_kinds(conn, video_id=video_id, camera=camera)
        return parse_with_zones(question, drawn, self.query_parser), drawn

    def _retrieve(self, state: dict) -> dict:
        filters: QueryFilters = state["filters"]
        if state["missing"] or state["tally"] or filters.relation or filters.compares or state["summary"]:
            method = ("counts" if state["tally"] else "relative" if filters.relation
                      else "compare" if filters.compares else "summary" if state["summary"] else "none")
            return {**state, "candidates": [], "method": method}
        video = str(state["video_row"]["id"]) if state["video_row"] else None
        docs = self.retriever.invoke(state["question"], filters=filters, video=video, video_row=state["video_row"])
        method = docs[0].metadata.get("search_method") if docs else self._planned_method(filters, state["video_row"])
        return {**state, "candidates": docs, "method": method or "hybrid"}

    def _planned_method(self, filters: QueryFilters, video: dict | None) -> str:
        """The ranking path the search took when it found nothing (there is no row to say)."""
        from db.repos.search import choose_path
        from rag.retriever import search_filters

        with self.app.db.connection() as conn:
            plan = choose_path(conn, search_filters(filters, [video["id"]] if video else None),
                               candidates=self.settings.retrieve_k, ef_search=self.settings.ef_search)
        return plan.method

    def _rerank(self, state: dict) -> dict:
        filters: QueryFilters = state["filters"]
        hits = (self.reranker.rerank(filters.text or state["question"], state["candidates"], filters,
                                     k=self.settings.rerank_k) if state["candidates"] else [])
        return {**state, "hits": hits}

    def _window(self, state: dict) -> dict:
        from rag.retriever import window_context

        if not state["hits"]:
            return {**state, "context": []}
        with self.app.db.connection() as conn:
            context = window_context(conn, state["hits"], self.settings.window_s)
        return {**state, "context": context}

    def _listing(self, state: dict) -> list[Document] | None:
        """Every event meeting the filters, for the questions `needs_listing` names (else None)."""
        filters: QueryFilters = state["filters"]
        if (not (needs_listing(filters) or counts_every(filters)) or state["missing"] or state["tally"]
                or state["summary"]):
            return None
        if filters.last_s is not None or filters.relation or filters.compares:
            # "the last minute" of every video only the retriever resolves; "after the theft" and
            # "than yesterday" list their own
            return None
        with self.app.db.connection() as conn:
            return ranked(filters, self._matching(conn, filters, state["video_row"]))

    def _matching(self, conn, filters: QueryFilters, video_row: dict | None, *, video_id=None) -> list[Document]:
        """Every event of the filters' types, window and days in scope that no filter contradicts."""
        from db.repos import events
        from rag.retriever import camera_scope, clock_scope, day_scope, row_to_document, within_days

        scope: list = [video_id or (video_row["id"] if video_row else None)]
        if scope == [None] and filters.videos:  # "in fighting1 and fighting2"
            scope = list(filters.videos)
        if filters.camera and not video_id:
            scope = camera_scope(conn, filters, None if scope == [None] else scope)
            if not scope:
                return []
        starts: dict = {}
        if filters.day_from is not None:  # "how many thefts yesterday?": the videos of those days
            scope, starts = day_scope(conn, filters, None if scope == [None] else scope, self.settings.zone)
        spans = [(one, filters.t_from, filters.t_to) for one in scope]
        if filters.clock_from_s is not None:  # "after 22:00": the footage of each video at those hours
            spans = clock_scope(conn, filters, None if scope == [None] else scope, self.settings.zone)
        rows = list({row["id"]: row for one, lo, hi in spans for row in events.list_events(
            conn, video_id=one, types=filters.event_types or None, t_from=lo, t_to=hi, limit=LISTING_LIMIT)}.values())
        if starts:
            rows = [row for row in rows if within_days(filters, starts[row["video_id"]], row)]
        # zones and person facets in code: an event that does not say is kept, as in the retriever
        return [doc for doc in map(row_to_document, rows) if not contradicts(filters, doc.metadata)]

    def _anchors(self, conn, filters: QueryFilters, video_row: dict | None) -> list[Document]:
        """The events a question asks about the time around ('after the theft'), one per moment, by time."""
        from rag import relative

        # the window and days find the anchor; the looks asked are the anchor's when its person is followed
        anchor_filters = filters.model_copy(update={"event_types": filters.anchor_types, "zones": [], "zone_names": [],
                                                    "directions": [], "items": [], "min_duration_s": None,
                                                    **({} if filters.same_person else _NO_LOOKS)})
        anchors = relative.distinct_anchors(self._matching(conn, anchor_filters, video_row))
        if filters.anchor_pick and anchors:  # "after the first theft": that one alone
            anchors = [anchors[0] if filters.anchor_pick == "first" else anchors[-1]]
        return anchors

    def _relative(self, state: dict) -> tuple[str, list[int], list[Document]]:
        """'What did the thief do after the theft?': the anchors asked, and what follows (or precedes) each."""
        from rag import relative

        filters: QueryFilters = state["filters"]
        # a followed person is found by their track: their looks asked were the anchor's
        target_filters = filters.model_copy(update={"t_from": None, "t_to": None, "day_from": None, "day_to": None,
                                                    **(_NO_LOOKS if filters.same_person else {})})
        with self.app.db.connection() as conn:
            anchors = self._anchors(conn, filters, state["video_row"])
            followed = []
            for anchor in anchors[:relative.MAX_ANCHORS]:
                lo, hi = relative.window(filters, anchor)
                around = self._matching(conn, target_filters.model_copy(update={"t_from": lo, "t_to": hi}), None,
                                        video_id=anchor.metadata["video_id"])
                followed.append((anchor, [d for d in around if relative.follows(filters, anchor, d)]))
            on_the_wall_clock(conn, [d for anchor, docs in followed for d in (anchor, *docs)], self.settings.zone)
        text, cited = relative.compose(filters, followed, anchors_found=len(anchors),
                                       window_label=filters.window_label())
        return text, cited, [d for _, docs in followed for d in docs] + [a for a, _ in followed]

    def _answer(self, joined: dict) -> dict:
        state, listing = joined["evidence"], joined["listing"]
        filters: QueryFilters = state["filters"]
        if state["missing"]:
            return {**state, "listing": None, "text": state["missing"], "cited": []}
        if state["tally"] and filters.relation:
            text, anchors = self._tally_around(state, state["tally"])
            return {**state, "listing": anchors, "text": text, "cited": [event_id(a) for a in anchors]}
        if state["tally"]:
            return {**state, "listing": None, "text": self._tally(state, state["tally"]), "cited": []}
        if filters.relation:
            text, cited, docs = self._relative(state)
            return {**state, "listing": docs, "text": text, "cited": cited}
        if state["summary"]:
            text, docs = self._overview(state)
            return {**state, "listing": docs, "text": text, "cited": [event_id(d) for d in docs]}
        if filters.compares:
            text, cited, docs = self._compare(state)
            return {**state, "listing": docs, "text": text, "cited": cited}
        if listing is None and (needs_listing(filters) or counts_every(filters)):
            # counted (or ranked) from all the retrieved candidates, not only the reranked few
            listing = ranked(filters, [d for d in state["candidates"] if not contradicts(filters, d.metadata)])
        with self.app.db.connection() as conn:
            # when each event was on the wall clock: for its line, its card and "the last theft" of all the footage;
            # the reranked copies too, as a citation is read from whichever copy is saved
            on_the_wall_clock(conn, [*(listing or []), *state["hits"], *state["context"]], self.settings.zone)
            if state["video_row"] is None and len(videos_in_scope(conn, filters, None, self.settings.zone)) > 1:
                for doc in [*(listing or []), *state["hits"]]:
                    doc.metadata["among_videos"] = True  # its line names its video, even when it is the only match
        if filters.rank_by in ("latest", "earliest") and listing:
            listing = ranked(filters, listing)
        hits = listing if listing is not None else state["hits"]
        unknown = False
        if not hits and (filters.day_from is not None or filters.clock_from_s is not None):
            with self.app.db.connection() as conn:
                unknown = unrecorded(conn, filters, state["video_row"], self.settings.zone)
        if unknown:
            # "was anyone here after 22:00?" with no footage then is not known to be a no
            text = f"No analysed footage was recorded {filters.window_label()}, so nothing could be seen then."
            return {**state, "listing": listing, "text": text, "cited": []}
        if not hits and (beyond := self._past_the_end(filters, state["video_row"])):
            return {**state, "listing": listing, "text": beyond, "cited": []}
        if filters.group_by:
            text, cited = self._breakdown(filters, listing)
            return {**state, "listing": listing, "text": text, "cited": cited}
        if counts_every(filters):
            # "was there a crowd?": every match counts, and the reranked ones are shown first
            reranked = {event_id(d) for d in state["hits"]}
            hits = [*state["hits"], *(d for d in listing if event_id(d) not in reranked)]
        answer = self.generator.answer(state["question"], filters, hits, state["context"])
        # every citation must be an event this question retrieved; anything else is dropped here
        known = {event_id(d) for d in [*state["candidates"], *hits, *state["context"]]} - {None}
        text, cited_in_text = keep_valid_citations(answer.text, known)
        cited = list(dict.fromkeys([*cited_in_text, *(i for i in answer.cited_event_ids if i in known)]))
        if not cited and filters.colours:
            text += self._colours_seen(filters, state["video_row"])
        if not cited:
            text += self._nobody_seen(filters, state["video_row"])
        return {**state, "listing": listing, "text": text, "cited": cited}

    def _past_the_end(self, filters: QueryFilters, video_row: dict | None) -> str:
        """'shoplifting2.mp4 is only 02:40 long, ...': a window after the end of every video asked about."""
        if filters.t_from is None or filters.t_from <= 0:
            return ""
        with self.app.db.connection() as conn:
            scope = videos_in_scope(conn, filters, video_row, self.settings.zone)
        lengths = [(float(v["duration_s"]), v["name"]) for v in scope if v.get("duration_s")]
        if not lengths or len(lengths) < len(scope) or max(lengths)[0] > filters.t_from:
            return ""
        longest, name = max(lengths)
        asked = video_row is not None or bool(filters.videos)
        which = (name if len(lengths) == 1 else f"the longest of the {len(lengths)} videos asked about, {name},"
                 if asked else f"the longest analysed video, {name},")
        return f"Nothing could be seen {filters.window_label()}: {which} is only {format_mmss(longest)} long."

    def _nobody_seen(self, filters: QueryFilters, video_row: dict | None) -> str:
        """' Nobody was detected at all in robbery1.mp4 ...': no event there is no sign that nothing happened."""
        from db.repos import runs

        with self.app.db.connection() as conn:
            scope = {str(v["id"]): v["name"] for v in videos_in_scope(conn, filters, video_row, self.settings.zone)}
            empty = runs.without_people(conn, list(scope), PERSON) if scope else []
        # over all the footage, a night with nobody in it is no news; named videos, or nothing seen anywhere, are
        if video_row is None and not filters.videos and len(empty) < len(scope):
            return ""
        return nobody_seen_note([scope[str(v)] for v in empty])

    def _colours_seen(self, filters: QueryFilters, video_row: dict | None) -> str:
        """' The people ... were read as grey (3 people) ...': a colour asked and not found may have been misread."""
        with self.app.db.connection() as conn:
            others = self._matching(conn, filters.model_copy(update={"colours": []}), video_row)
        return colours_seen_note(colours_of_people(others))

    def _overview(self, state: dict) -> tuple[str, list[Document]]:
        """'Summarise fighting1', 'an overview of today': the summary of the videos in scope, newest first."""
        from db.repos import events
        from rag.retriever import row_to_document
        from rag.summaries import overview

        with self.app.db.connection() as conn:
            videos = [v for v in videos_in_scope(conn, state["filters"], state["video_row"], self.settings.zone)
                      if v.get("current_run_id")]
        filters: QueryFilters = state["filters"]
        where = " ".join(p for p in (f"on camera {filters.camera}" if filters.camera else "",
                                     filters.window_label() if filters.day_from else "") if p)
        text, cited = overview(self.app, videos, where)
        with self.app.db.connection() as conn:
            rows = {r["id"]: r for r in events.get_many(conn, cited)}
        return text, [row_to_document(rows[i]) for i in cited if i in rows]

    def _compare(self, state: dict) -> tuple[str, list[int], list[Document]]:
        """'More thefts today than yesterday?', '... on the front door than on till_2 or back?': every side's events."""
        from db.repos import videos
        from rag.breakdown import compose_comparison
        from rag.day_phrases import day_label

        filters: QueryFilters = state["filters"]
        video = other_video = state["video_row"]
        if filters.compare_video and video is not None:
            with self.app.db.connection() as conn:
                other_video = videos.find(conn, filters.compare_video)
        if other_video is not None and other_video is not video:
            sides = [(filters, video, f"in {video['name']}"),
                     (filters.model_copy(update={"video": str(other_video["id"])}), other_video,
                      f"in {other_video['name']}")]
        elif filters.compare_cameras:
            days = f" {day_label(filters.day_from, filters.day_to)}" if filters.day_from else ""
            sides = [(filters.model_copy(update={"camera": c}), video, f"on camera {c}{days}")
                     for c in [filters.camera, *filters.compare_cameras]]
        else:
            sides = [(filters, video, day_label(filters.day_from, filters.day_to)),
                     (filters.model_copy(update={"day_from": filters.compare_from, "day_to": filters.compare_to}),
                      video, day_label(filters.compare_from, filters.compare_to))]
        with self.app.db.connection() as conn:
            found = [self._matching(conn, f, v) for f, v, _ in sides]
            # a side without analysed footage (of its camera, on its days) is unknown, not zero
            covered = [bool(videos_in_scope(conn, f, v, self.settings.zone)) for f, v, _ in sides]
        text, cited = compose_comparison(state["question"], [label for *_, label in sides], filters, found, covered)
        return text, cited, [d for docs in found for d in docs]

    def _breakdown(self, filters: QueryFilters, matching: list[Document]) -> tuple[str, list[int]]:
        """'Which camera had the most thefts?': every matching event grouped by camera, video, day or hour."""
        from db.repos import videos
        from rag.breakdown import compose_groups

        ids = {str(d.metadata.get("video_id")) for d in matching} - {"None"}
        with self.app.db.connection() as conn:
            rows = {str(v["id"]): v for v in videos.get_many(conn, sorted(ids))}
        return compose_groups(filters, matching, rows, self.settings.zone)

    def _tally(self, state: dict, kind: str) -> str:
        """A count question's answer from the counts of the video in scope, or of every analysed video."""
        from rag import tally

        filters: QueryFilters = state["filters"]
        with self.app.db.connection() as conn:
            scoped = videos_in_scope(conn, filters, state["video_row"], self.settings.zone)
            counted = tally.load_counts(conn, scoped, frames=kind == "busiest", who=filters)
            seen = ""
            if kind == "people" and filters.colours and not any(c.paths for c in counted):  # nobody of that colour
                everyone = tally.load_counts(conn, scoped, who=filters.model_copy(update={"colours": []}))
                seen = colours_seen_note(look.get("clothing_colour") for c in everyone for look in c.looks.values())
        return tally.answer(state["question"], state["filters"], counted, kind, self.settings.zone) + seen

    def _tally_around(self, state: dict, kind: str) -> tuple[str, list[Document]]:
        """'How many people came in after the theft?': the count in each anchor's video, in the minute after it."""
        from db.repos import videos
        from rag import relative, tally

        filters: QueryFilters = state["filters"]
        blocks = []
        with self.app.db.connection() as conn:
            anchors = self._anchors(conn, filters, state["video_row"])
            for anchor in anchors[:relative.MAX_ANCHORS]:
                lo, hi = relative.window(filters, anchor, outside=True)
                around = filters.model_copy(update={"t_from": lo, "t_to": hi, "day_from": None, "day_to": None})
                video = videos.get(conn, anchor.metadata["video_id"])
                counted = tally.load_counts(conn, [video], frames=kind == "busiest", who=around)
                blocks.append(f"{relative.heading(filters, anchor)}: "
                              f"{tally.answer(state['question'], around, counted, kind, self.settings.zone)}")
        if not anchors:
            return relative.nothing_to_follow(filters, filters.window_label(), what="count"), []
        if len(anchors) > relative.MAX_ANCHORS:
            blocks.append(relative.more_anchors(filters, len(anchors) - relative.MAX_ANCHORS, filters.window_label()))
        return "\n\n".join(blocks), anchors[:relative.MAX_ANCHORS]

    def _save(self, done: dict) -> AskResult:
        from db.repos import chat

        filters: QueryFilters = done["filters"]
        by_id: dict[int, Document] = {}
        # later wins: the reranked copy carries the rerank score
        for doc in [*(done["listing"] or []), *done["context"], *done["candidates"], *done["hits"]]:
            by_id[event_id(doc)] = doc
        citations = []
        for i in done["cited"]:
            summary = _doc_summary(by_id[i])
            citations.append({**{key: summary.get(key) for key in CITATION_KEYS}, "score": _score(by_id[i])})
        hit_ids = {event_id(d) for d in done["hits"]}
        context = [{**_doc_summary(d), "is_hit": event_id(d) in hit_ids} for d in done["context"]]
        own = done["method"] in ("relative", "compare", "summary")  # these answers list their own events
        method = done["method"] if done["listing"] is None or own else f"{done['method']}+listing"
        result_count = len(done["listing"]) if done["listing"] is not None else len(done["candidates"])
        filters_json = filters.model_dump(mode="json")
        latency = round((time.perf_counter() - done["started"]) * 1000, 1)

        start = time.perf_counter()
        with self.app.db.connection() as conn:
            if done["session_id"] is None:
                video = done["video_row"]
                session = chat.create_session(conn, title=done["question"][:SESSION_TITLE_CHARS],
                                              video_id=video["id"] if video else None)
            else:
                session = chat.get_session(conn, done["session_id"])
                if session is None:
                    raise LookupError(f"No chat session {done['session_id']}; start a new one.")
            turn = chat.add_turn(conn, session_id=session["id"], question=done["question"], answer=done["text"],
                                 filters=filters_json, search_method=method, cited_event_ids=done["cited"],
                                 result_count=result_count, latency_ms=latency)
        timings = done["timings"]
        timings["save"] = round((time.perf_counter() - start) * 1000, 1)
        timings["total"] = round((time.perf_counter() - done["started"]) * 1000, 1)
        return AskResult(answer=done["text"], citations=citations, context=context, filters=filters_json,
                         search_method=method, timings_ms=dict(timings), session_id=str(session["id"]),
                         turn_id=turn["id"], result_count=result_count)


_services: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_services_lock = threading.Lock()


def _videos_asked(question: str, mentioned: list[dict]) -> tuple[tuple | None, dict | None, tuple[list, str]]:
    """From the stored names in a question: the video it asks about (row, the question without its name), the
    one it is compared with ('... than in fighting2'), and the videos of 'in fighting1 and fighting2' (two or
    more, with the question without their names; else none)."""
    from rag.terms import two_videos, video_mention, videos_named

    named = video_mention(question, mentioned)
    versus = named and two_videos(question, mentioned)
    if versus:  # "more fights in fighting1 than in fighting2?": the one before "than" is asked
        return (versus[0], versus[2]), versus[1], ([], question)
    several = videos_named(question, mentioned) if named else ([], question)
    if len(several[0]) > 1:
        return None, None, several
    return named, None, ([], question)


def needs_listing(filters: QueryFilters) -> bool:
    """Whether the answer needs every matching event, not the reranked few: a count, longest/shortest,
    'list all', a least duration (the top 5 by relevance may hold none long enough), or a breakdown."""
    return bool(filters.is_count or filters.rank_by or filters.list_all or filters.min_duration_s or filters.group_by)


def counts_every(filters: QueryFilters) -> bool:
    """A yes/no question about event types ('was there a crowd?'): its count is of every match, not the top 5."""
    return bool(filters.is_yes_no and filters.event_types and not needs_listing(filters))


def get_ask_service(app) -> AskService:
    """The App's AskService (one per App, so models and the chain are built once)."""
    with _services_lock:
        service = _services.get(app)
        if service is None:
            service = _services[app] = AskService(app)
        return service
