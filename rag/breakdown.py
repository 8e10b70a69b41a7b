"""Breakdowns and comparisons of events: "which camera had the most thefts?", "falls per day",
"were there more thefts today than yesterday?".

Both are answered from every matching event, not the reranked few. A breakdown groups them by
camera, video, footage day or wall-clock hour of the day (footage is dated as everywhere else:
the clock set at upload, else the file name, else the upload time); a comparison counts them in
two asked periods, and says when a period has no analysed footage at all rather than reading
that as none.

Example:
    >>> compose_groups(filters, matching, videos)[0].splitlines()[0]
    'The most theft events were on camera till_2: 3 of 4.'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta, tzinfo

from langchain_core.documents import Document

from core.cameras import footage_start
from core.phrasing import listed, plural
from rag.answer import event_id, no_match

_MORE = r"\b(?:more|higher|busier|worse)\b"
_FEWER = r"\b(?:fewer|less|lower|quieter|better)\b"
MAX_GROUPS = 10  # lines of a breakdown; the rest is summed up in one
CITED_PER_GROUP = 3
CITED_PER_PERIOD = 5
NO_CAMERA = "no camera set"


def group_label(kind: str, doc: Document, video: Mapping | None, zone: tzinfo | None) -> str:
    """The group an event falls in: its camera, video name, footage day (YYYY-MM-DD) or hour of the day."""
    meta = doc.metadata
    if kind == "camera":
        return str((video or {}).get("camera") or NO_CAMERA)
    if kind == "video":
        return str(meta.get("video_name") or (video or {}).get("name") or meta.get("video_id"))
    start, _ = footage_start(dict(video or {}), zone)
    at = start + timedelta(seconds=float(meta.get("t_start") or 0.0))
    return at.date().isoformat() if kind == "day" else f"{at.hour:02d}:00-{(at.hour + 1) % 24:02d}:00"


def _place(kind: str, label: str) -> str:
    if kind == "camera":
        return "on no named camera" if label == NO_CAMERA else f"on camera {label}"
    if kind == "video":
        return f"in {label}"
    return f"on {label}" if kind == "day" else f"between {label.replace('-', ' and ')}"


def _noun(docs: Sequence[Document], types: Sequence[str] = ()) -> str:
    """'theft event' when the events (else the asked types) are of one type, else 'matching event'."""
    kinds = sorted({str(d.metadata.get("type") or "event") for d in docs}) or list(types)
    return f"{kinds[0]} event" if len(kinds) == 1 else "matching event"


def _cites(docs: Sequence[Document], limit: int) -> str:
    ids = [f"[E{event_id(d)}]" for d in docs[:limit] if event_id(d) is not None]
    return " ".join(ids) + (" ..." if len(docs) > limit else "")


def compose_groups(filters, matching: Sequence[Document], videos: Mapping[str, Mapping],
                   zone: tzinfo | None = None) -> tuple[str, list[int]]:
    """The breakdown's answer and the events it cites; `videos` maps each event's video id to its row."""
    window = filters.window_label()
    suffix = f" {window}" if window else ""
    if not matching:
        return no_match(filters, suffix), []
    kind = filters.group_by
    groups: dict[str, list[Document]] = {}
    for doc in sorted(matching, key=lambda d: (float(d.metadata.get("t_start") or 0.0), event_id(d) or 0)):
        groups.setdefault(group_label(kind, doc, videos.get(str(doc.metadata.get("video_id"))), zone), []).append(doc)
    by_size = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    most = len(by_size[0][1])
    top = [label for label, docs in by_size if len(docs) == most]
    total = len(matching)
    noun = _noun(matching)
    if len(groups) == 1:
        every = plural(total, noun) if total == 1 else f"{'both' if total == 2 else f'all {total}'} {noun}s"
        head = f"{every}{suffix} {'was' if total == 1 else 'were'} {_place(kind, top[0])}."
        head = head[0].upper() + head[1:]
    elif len(top) == 1:
        head = f"The most {noun}s{suffix} were {_place(kind, top[0])}: {most} of {total}."
    else:
        places = listed([_place(kind, t) for t in top])
        head = f"The most {noun}s{suffix}, {most} each of {total}, were {places}."
    # a day or an hour reads best in time order; cameras and videos largest first
    shown = sorted(groups.items()) if kind in ("day", "hour") else by_size
    if len(shown) > MAX_GROUPS:
        kept = {label for label, _ in by_size[:MAX_GROUPS]}
        rest = [(label, docs) for label, docs in shown if label not in kept]
        shown = [(label, docs) for label, docs in shown if label in kept]
    else:
        rest = []
    per = CITED_PER_GROUP if len(shown) <= 4 else 1  # about a dozen cards at most under the answer
    lines = [f"- {label}: {len(docs)} {_cites(docs, per)}" for label, docs in shown]
    if rest:
        lines.append(f"- ... and {sum(len(d) for _, d in rest)} more in {plural(len(rest), kind)}.")
    if kind in ("day", "hour") and any(footage_start(dict(v), zone)[1] == "upload time" for v in videos.values()):
        lines.append("(Footage without a recording time is dated by its upload.)")
    cited = [event_id(d) for _, docs in shown for d in docs[:per] if event_id(d) is not None]
    return "\n".join([head, *lines]), cited


def compose_comparison(question: str, periods: Sequence[str], filters, sides: Sequence[Sequence[Document]],
                       covered: Sequence[bool]) -> tuple[str, list[int]]:
    """'More thefts today than yesterday?', '... on till_2 than on front_door or back?': every side's count,
    yes or no when the question asks whether the first side has more (or fewer) than each of the others.

    periods: how each side is said ('on 2026-12-01', 'on camera till_2'); covered: whether each side has any
    analysed footage (a side without footage is unknown, not zero).
    """
    noun = _noun([d for docs in sides for d in docs], filters.event_types)
    scope = f" on camera {filters.camera}" if filters.camera and not filters.compare_cameras else ""
    counts = [len(docs) for docs in sides]
    if not any(covered):
        return f"No footage was analysed {listed(periods, 'or')}{scope}, so there is nothing to compare.", []
    unseen = [periods[k] for k, c in enumerate(covered) if not c]
    seen = [k for k, c in enumerate(covered) if c]
    said = [f"{plural(counts[k], noun) if n == 0 else counts[k]} {periods[k]}" for n, k in enumerate(seen)]
    if not covered[0]:
        head = f"Unknown. No footage was analysed {listed(unseen, 'or')}{scope}; {listed(said)}."
    else:
        head = said[0] + scope + (f", against {listed(said[1:])}" if len(said) > 1 else "")
        if unseen:
            head = f"Unknown. {head}, but no footage was analysed {listed(unseen, 'or')}."
        else:
            lowered = question.lower()
            asks = "more" if re.search(_MORE, lowered) else "fewer" if re.search(_FEWER, lowered) else None
            yes = counts[0] > max(counts[1:]) if asks == "more" else counts[0] < min(counts[1:])
            head = f"{'' if asks is None else 'Yes. ' if yes else 'No. '}{head}."
    head = head[0].upper() + head[1:]
    lines, cited = [], []
    for k, docs in enumerate(sides):
        if docs:
            lines.append(f"- {periods[k]}: {_cites(list(docs), CITED_PER_PERIOD)}")
            cited += [event_id(d) for d in docs[:CITED_PER_PERIOD] if event_id(d) is not None]
    return "\n".join([head, *lines]), cited
