"""Hybrid event search: pgvector similarity and full-text rank, fused by reciprocal rank fusion.

One statement does the whole search: a semantic CTE ranked by cosine distance
(`embedding <=> %(q)s`), a keyword CTE ranked by `ts_rank_cd` over
`websearch_to_tsquery('english', ...)`, a FULL OUTER JOIN of the two, and
`COALESCE(1.0 / (60 + rank), 0)` summed per event. Filters go to BOTH CTEs as
parameters; the SQL text itself is assembled only from constant fragments chosen by
which filters are set, so no value from a question ever becomes SQL.

Two ways to rank by distance (DESIGN section 3, pgvector 0.6.2 has no iterative scans):

- 'hnsw': the HNSW index returns about `ef_search` nearest rows of the whole table and
  the WHERE clause filters them afterwards. Fast, and right for broad questions.
- 'exact': the filtered rows are materialized first (btree on video/time, type...)
  and sorted by distance, so the index cannot be used and a selective filter (one
  video, a short window) still finds every matching event.

`choose_path` picks one from the filters and the planner's row estimate;
`hybrid_search(..., exact=True/False)` forces one (tests, benchmarks).

Example:
    >>> with db.connection() as conn:
    ...     hits = hybrid_search(conn, query_embedding=vec, query_text="man takes a bottle",
    ...                          filters=SearchFilters(t_from=180, t_to=300))
    >>> hits.method, hits[0]["rrf_score"]
    ('exact', 0.0328)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the weight of the very first ranks
# Rank at most this many filtered rows exactly; beyond, HNSW with a wider beam. Each exact row
# costs a heap fetch and, at 384 dimensions, a TOAST fetch of its vector (~10-20 us a row).
EXACT_MAX_ROWS = 10_000
HNSW_MIN_SURVIVORS = 15  # with the widest beam, HNSW still serves when this many rows should pass
HNSW_MAX_EF = 1000  # pgvector's upper bound for hnsw.ef_search
HNSW_OVERSAMPLE = 2.0  # widen the beam to twice the rows a filter is expected to keep
LENIENT_KEEP = 0.5  # a guess: zone and person filters keep about half the rows (unknowns stay)

# Which attribute keys hold each person facet (same reading as rag.query.match_filters).
FACET_KEYS: dict[str, tuple[str, ...]] = {
    "age_group": ("age_group", "age"),
    "gender": ("gender", "sex"),
    "colour": ("%colour%", "%color%"),
}


@dataclass(frozen=True)
class SearchFilters:
    """Hard constraints on the events a search may return; all optional.

    Args:
        video_ids: only these videos.
        types: only these event types.
        t_from, t_to: only events overlapping [t_from, t_to] (seconds).
        last_s: only events ending in the last `last_s` seconds of their own video.
        zones: events in a zone of these names (lowercase), or in the shelf a hand reached into; an
            event without a zone is kept (it does not say).
        zone_kinds: events in a drawn zone of these kinds too ("at the door": any exit or entrance zone).
        regions: events in these thirds of the frame as well ("at the counter on the left"); an event
            whose third is not known (its zone is none of `region_names`, its attributes say none) is kept.
        region_names: every name a third of the frame goes by.
        attributes: jsonb containment, exact: `{"gender": "male"}` keeps only events whose
            attributes contain that pair.
        facets: person facets, lenient: `{"gender": ["male"], "colour": ["red", "black"]}`
            drops events whose known values for that facet are all outside the list;
            events with no known value ('unknown' or absent) are kept, since the face and
            colour models often cannot tell.
        min_confidence: only events at or above this confidence.
        staff: True: only the events of staff (whose attributes name their `staff_area`); False: only the others.
        windows: (video_id, t_from, t_to) spans; only events overlapping one of them ("after 22:00" on
            each video's own clock). A video may have several.
    """

    video_ids: Sequence[UUID] | None = None
    types: Sequence[str] | None = None
    t_from: float | None = None
    t_to: float | None = None
    last_s: float | None = None
    zones: Sequence[str] | None = None
    zone_kinds: Sequence[str] | None = None
    regions: Sequence[str] | None = None
    region_names: Sequence[str] = ("left", "centre", "right")
    attributes: Mapping | None = None
    facets: Mapping[str, Sequence[str]] | None = None
    min_confidence: float | None = None
    staff: bool | None = None
    windows: Sequence[tuple[UUID, float, float]] | None = None

    @property
    def is_empty(self) -> bool:
        events_conds, video_conds, _ = self._conditions()
        return not events_conds and not video_conds

    @property
    def has_lenient(self) -> bool:
        """Filters that keep events which do not say (zones, facets, last_s): they narrow little."""
        return bool(self.zones or self.zone_kinds or self.regions or any(self.facets.values() if self.facets else ())
                    or self.last_s is not None)

    def _conditions(self, *, hard_only: bool = False) -> tuple[list[str], list[str], dict]:
        """Constant SQL conditions over `e` (events), over `v` (videos), and their parameters.

        `hard_only` leaves out the lenient filters (zones, facets, last_s).
        """
        conds: list[str] = []
        video_conds: list[str] = []
        params: dict = {}
        if self.video_ids:
            conds.append("e.video_id = ANY(%(f_video_ids)s::uuid[])")
            params["f_video_ids"] = [UUID(str(v)) for v in self.video_ids]
        if self.types:
            conds.append("e.type = ANY(%(f_types)s::text[])")
            params["f_types"] = list(self.types)
        if self.t_from is not None:
            conds.append("e.t_end >= %(f_t_from)s::float8")
            params["f_t_from"] = float(self.t_from)
        if self.t_to is not None:
            conds.append("e.t_start <= %(f_t_to)s::float8")
            params["f_t_to"] = float(self.t_to)
        if self.last_s is not None and not hard_only:
            # resolved per video: "the last minute" of each video, whatever its length
            video_conds.append("(v.duration_s IS NULL OR e.t_end >= v.duration_s - %(f_last_s)s::float8)")
            params["f_last_s"] = float(self.last_s)
        if (self.zones or self.zone_kinds) and not hard_only:
            conds.append("(e.zone IS NULL OR lower(e.zone) = ANY(%(f_zones)s::text[])"
                         " OR e.attributes->>'zone_kind' = ANY(%(f_zone_kinds)s::text[])"
                         " OR lower(e.attributes->>'shelf') = ANY(%(f_zones)s::text[])"
                         " OR ('shelf' = ANY(%(f_zone_kinds)s::text[]) AND e.attributes->>'shelf' IS NOT NULL)"
                         " OR ('staff' = ANY(%(f_zone_kinds)s::text[]) AND e.attributes->>'staff_area' IS NOT NULL))")
            params["f_zones"] = [z.lower() for z in self.zones or ()]
            params["f_zone_kinds"] = list(self.zone_kinds or ())
        if self.regions and not hard_only:
            conds.append("(e.zone IS NULL OR lower(e.zone) = ANY(%(f_regions)s::text[])"
                         " OR e.attributes->>'region' = ANY(%(f_regions)s::text[])"
                         " OR (e.attributes->>'region' IS NULL AND lower(e.zone) <> ALL(%(f_all_regions)s::text[])))")
            params["f_regions"] = [r.lower() for r in self.regions]
            params["f_all_regions"] = [r.lower() for r in self.region_names]
        if self.windows:
            conds.append("EXISTS (SELECT 1 FROM unnest(%(f_w_ids)s::uuid[], %(f_w_lo)s::float8[], %(f_w_hi)s::float8[])"
                         " AS w(video_id, lo, hi) WHERE w.video_id = e.video_id AND e.t_end >= w.lo"
                         " AND e.t_start <= w.hi)")
            params.update({"f_w_ids": [UUID(str(w[0])) for w in self.windows],
                           "f_w_lo": [float(w[1]) for w in self.windows],
                           "f_w_hi": [float(w[2]) for w in self.windows]})
        if self.staff is not None:
            conds.append(f"e.attributes->>'staff_area' IS {'NOT ' if self.staff else ''}NULL")
        if self.min_confidence is not None:
            conds.append("e.confidence >= %(f_conf)s::float4")
            params["f_conf"] = float(self.min_confidence)
        if self.attributes:
            conds.append("e.attributes @> %(f_attrs)s::jsonb")
            params["f_attrs"] = Jsonb(dict(self.attributes))
        facets = [
            {"keys": list(FACET_KEYS[name]), "wanted": [str(w).lower() for w in wanted]}
            for name, wanted in (self.facets or {}).items() if wanted
        ]
        if facets and not hard_only:
            unknown = {n for n in (self.facets or {}) if n not in FACET_KEYS}
            if unknown:
                raise ValueError(f"unknown attribute facets: {sorted(unknown)}")
            conds.append(_FACETS_SQL)
            params["f_facets"] = Jsonb(facets)
        return conds, video_conds, params


# An event contradicts a facet when it has known values under the facet's keys and none
# of them is wanted; bool_or over no known values is NULL, which keeps the event.
_FACETS_SQL = """NOT EXISTS (
        SELECT 1 FROM jsonb_to_recordset(%(f_facets)s::jsonb) AS f(keys text[], wanted text[])
        WHERE (SELECT bool_or(lower(x.v #>> '{}') = ANY(f.wanted))
               FROM jsonb_each(e.attributes) AS a(key, value),
                    jsonb_path_query(a.value, 'lax $.** ? (@.type() == "string")') AS x(v)
               WHERE a.key LIKE ANY(f.keys)
                 AND lower(x.v #>> '{}') NOT IN ('unknown', 'none', '')) = false)"""

_CURRENT_RUN = "JOIN videos v ON v.id = e.video_id AND v.current_run_id = e.run_id"

RESULT_COLUMNS = """e.id, e.video_id, v.name AS video_name, e.run_id, e.track_number, e.type, e.t_start, e.t_end,
    e.frame, e.bbox, e.zone, e.confidence, e.attributes, e.description, e.keywords, e.highlight_key,
    e.embedding, f.vector_rank, (1 - f.distance) AS vector_score, f.text_rank, f.text_score, f.rrf_score"""


@dataclass(frozen=True)
class SearchPlan:
    """How one search ranks by distance: 'hnsw' or 'exact', the beam width, and why."""

    method: str
    ef_search: int
    estimated_matches: int | None = None
    reason: str = ""


class SearchResult(list):
    """The fused rows, best first (a list of dicts), plus the plan that produced them.

    Kept a list so callers can index and iterate it; `method` stays known when the
    search found nothing.
    """

    def __init__(self, rows: list[dict], plan: SearchPlan) -> None:
        super().__init__(rows)
        self.plan = plan

    @property
    def method(self) -> str:
        return self.plan.method


def _explain_rows(conn: psycopg.Connection, sql: str, params: dict) -> int:
    """The planner's row estimate for a query (EXPLAIN only plans it: about a millisecond)."""
    plan = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params, prepare=False).fetchone()
    value = next(iter(plan.values())) if isinstance(plan, Mapping) else plan[0]
    if isinstance(value, str):
        value = json.loads(value)
    return int(value[0]["Plan"]["Plan Rows"])


def estimate_matches(conn: psycopg.Connection, filters: SearchFilters) -> tuple[int, int]:
    """(estimated rows matching the hard filters, estimated rows in the table), from the planner.

    Left out: the join on the current run, which barely narrows (old runs are deleted on
    write) and which the planner cannot estimate well; and the lenient filters (zones,
    facets, last_s), which keep every event that does not say and which the planner
    would guess far too selective. Either would make broad questions look selective.
    """
    conds, _, params = filters._conditions(hard_only=True)
    where = " AND ".join(["e.embedding IS NOT NULL", *conds])
    matching = _explain_rows(conn, f"SELECT 1 FROM events e WHERE {where}", params)
    total = _explain_rows(conn, "SELECT 1 FROM events e WHERE e.embedding IS NOT NULL", {})
    return matching, total


def choose_path(conn: psycopg.Connection, filters: SearchFilters, *, candidates: int = 30,
                ef_search: int = 100, exact_max_rows: int = EXACT_MAX_ROWS) -> SearchPlan:
    """Pick exact or HNSW ranking for these filters.

    - no filters: HNSW.
    - a video scope: exact (a video's events are found by the btree on (video_id, t_start)).
    - otherwise the planner's estimate of the hard filters (type, time, confidence,
      attributes) decides: few matching rows (at most `exact_max_rows`) are ranked
      exactly; many are searched with HNSW whose beam is widened so that, after the
      filters, about twice `candidates` rows should survive; when that beam would exceed
      pgvector's limit, the widest beam serves if `HNSW_MIN_SURVIVORS` rows should still
      pass, and otherwise the filtered rows are ranked exactly after all.
    """
    ef_search = max(int(ef_search), int(candidates))
    if filters.is_empty:
        return SearchPlan("hnsw", ef_search, None, "no filters")
    if filters.video_ids:
        return SearchPlan("exact", ef_search, None, "video scope")
    matching, total = estimate_matches(conn, filters)
    if matching <= exact_max_rows:
        return SearchPlan("exact", ef_search, matching, f"about {matching} matching rows")
    selectivity = matching / max(total, 1)
    keep = selectivity * (LENIENT_KEEP if filters.has_lenient else 1.0)
    needed = math.ceil(HNSW_OVERSAMPLE * candidates / max(keep, 1e-9))
    reason = f"filters keep about {selectivity:.1%} of {total} rows"
    if needed <= HNSW_MAX_EF:
        return SearchPlan("hnsw", max(ef_search, needed), matching, reason)
    if keep * HNSW_MAX_EF >= HNSW_MIN_SURVIVORS:
        # fewer than `candidates` may survive, but enough to rerank: cheaper than ranking
        # tens of thousands of rows exactly
        return SearchPlan("hnsw", HNSW_MAX_EF, matching, reason + " (widest beam)")
    return SearchPlan("exact", ef_search, matching, reason)


def _statement(filters: SearchFilters, method: str) -> tuple[str, dict]:
    """The hybrid statement for one ranking method, and the filter parameters."""
    event_conds, video_conds, params = filters._conditions()
    where = " AND ".join([*event_conds, *video_conds]) or "TRUE"
    if method == "exact":
        hard_conds, _, _ = filters._conditions(hard_only=True)
        hard_where = " AND ".join(hard_conds) or "TRUE"
        # MATERIALIZED keeps the planner from turning the ORDER BY into an HNSW scan: the
        # rows of the hard filters come from the btree indexes, each gets its distance
        # (the current-run check waits for the next step, which reads only the nearest)
        candidates = f"""
    candidates AS MATERIALIZED (
        SELECT e.id, e.embedding <=> %(q)s AS distance
        FROM events e
        WHERE e.embedding IS NOT NULL AND {hard_where}
    ),"""
    else:
        # The top `ef` of the whole table by the index, then the filters: what pgvector 0.6.2
        # does anyway (no iterative scans), written out so the planner cannot swap the index
        # for a btree on a selective filter, nor misjudge the join to videos.
        candidates = """
    candidates AS MATERIALIZED (
        SELECT e.id, e.embedding <=> %(q)s AS distance
        FROM events e
        WHERE e.embedding IS NOT NULL
        ORDER BY e.embedding <=> %(q)s
        LIMIT %(ef)s
    ),"""
    # Nearest first, then the filters (all of them; re-checking the hard ones is cheap): the
    # OFFSET 0 fence keeps the sort below the filters, so the costly person-facet test runs
    # only until `n` candidates pass, not on every filtered row.
    semantic = f"""{candidates}
    semantic AS (
        SELECT id, distance, row_number() OVER (ORDER BY distance, id) AS rank
        FROM (SELECT e.id, c.distance
              FROM (SELECT id, distance FROM candidates ORDER BY distance, id OFFSET 0) c
              JOIN events e ON e.id = c.id
              {_CURRENT_RUN}
              WHERE {where}
              ORDER BY c.distance, c.id
              LIMIT %(n)s) s
    ),"""
    sql = f"""
WITH{semantic}
    keyword AS (
        SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank
        FROM (SELECT e.id, ts_rank_cd(e.search_tsv, tsq.query) AS score
              FROM events e {_CURRENT_RUN},
                   websearch_to_tsquery('english', %(text)s) AS tsq(query)
              WHERE e.search_tsv @@ tsq.query AND {where}
              ORDER BY score DESC, e.id
              LIMIT %(n)s) t
    ),
    fused AS (
        SELECT COALESCE(s.id, kw.id) AS id, s.rank AS vector_rank, s.distance,
               kw.rank AS text_rank, kw.score AS text_score,
               COALESCE(1.0 / (%(rrf_k)s + s.rank), 0.0)::float8
                 + COALESCE(1.0 / (%(rrf_k)s + kw.rank), 0.0)::float8 AS rrf_score
        FROM semantic s FULL OUTER JOIN keyword kw ON kw.id = s.id
    )
SELECT {RESULT_COLUMNS}
FROM fused f JOIN events e ON e.id = f.id JOIN videos v ON v.id = e.video_id
ORDER BY f.rrf_score DESC, f.vector_rank NULLS LAST, f.text_rank NULLS LAST, e.id
LIMIT %(k)s"""
    return sql, params


def _set_local(conn: psycopg.Connection, name: str, value: str) -> None:
    # set_config(..., true) is SET LOCAL with a bind parameter (SET itself takes none)
    conn.execute("SELECT set_config(%s, %s, true)", (name, value), prepare=False)


def hybrid_search(conn: psycopg.Connection, *, query_embedding: Sequence[float] | np.ndarray,
                  query_text: str, filters: SearchFilters | None = None, k: int = 30,
                  candidates: int | None = None, ef_search: int = 100, exact: bool | None = None,
                  exact_max_rows: int = EXACT_MAX_ROWS) -> SearchResult:
    """The current run's events best matching a question, fused by reciprocal rank fusion.

    Args:
        conn: a connection with pgvector registered (`Database.connection()`).
        query_embedding: the question's embedding (normalised, `settings.embedding_dim`).
        query_text: words for full-text search (`websearch_to_tsquery` syntax is safe
            for any input; an empty or stop-word-only text simply matches nothing).
        filters: hard constraints, applied in both CTEs.
        k: rows returned.
        candidates: rows each CTE contributes to the fusion (default `k`).
        ef_search: HNSW beam width (raised to `candidates`, and further for broad filters).
        exact: True forces exact ranking, False forces HNSW, None lets `choose_path` decide.
        exact_max_rows: see `choose_path`.

    Returns:
        A `SearchResult` (a list of dicts, best first) with the event's columns,
        `video_name`, `embedding` (numpy array), `vector_rank`, `vector_score`
        (1 - cosine distance), `text_rank`, `text_score`, `rrf_score` and `search_method`;
        `.plan` tells the method and beam used.
    """
    filters = filters or SearchFilters()
    k = max(0, int(k))
    candidates = max(int(candidates or k), k, 1)
    if exact is None:
        plan = choose_path(conn, filters, candidates=candidates, ef_search=ef_search,
                           exact_max_rows=exact_max_rows)
    else:
        plan = SearchPlan("exact" if exact else "hnsw", max(int(ef_search), candidates), None, "forced")
    if k == 0:
        return SearchResult([], plan)
    sql, params = _statement(filters, plan.method)
    params.update(q=np.asarray(query_embedding, dtype=np.float32), text=query_text or "", n=candidates,
                  k=k, rrf_k=RRF_K, ef=min(plan.ef_search, HNSW_MAX_EF))
    with conn.transaction():
        _set_local(conn, "hnsw.ef_search", str(min(plan.ef_search, HNSW_MAX_EF)))
        # one-off plans: a cached generic plan would not see which filters are NULL-free
        rows = conn.execute(sql, params, prepare=False).fetchall()
    for row in rows:
        row["search_method"] = plan.method
    return SearchResult(rows, plan)


def explain_hybrid_search(conn: psycopg.Connection, *, query_embedding: Sequence[float] | np.ndarray,
                          query_text: str, filters: SearchFilters | None = None, k: int = 30,
                          ef_search: int = 100, exact: bool, analyze: bool = False) -> str:
    """The plan of the statement `hybrid_search` runs for one method (tests, tuning)."""
    filters = filters or SearchFilters()
    sql, params = _statement(filters, "exact" if exact else "hnsw")
    ef = min(max(ef_search, k), HNSW_MAX_EF)
    params.update(q=np.asarray(query_embedding, dtype=np.float32), text=query_text or "", n=k, k=k,
                  rrf_k=RRF_K, ef=ef)
    with conn.transaction():
        _set_local(conn, "hnsw.ef_search", str(ef))
        rows = conn.execute(("EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN ") + sql, params,
                            prepare=False).fetchall()
    return "\n".join(next(iter(r.values())) if isinstance(r, Mapping) else r[0] for r in rows)

