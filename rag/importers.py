"""Import annotated events from other datasets: UCA (UCF-Crime Annotation) sentences.

A UCA file is `{"<video>": {"duration": s, "timestamps": [[start, end], ...],
"sentences": ["...", ...]}}`. Each UCA video becomes a media-less video row (no file, no
hash, status completed, source 'import:uca') named after its key, and each sentence one
event: its time span, the sentence as description, an event type read from the sentence
with the question parser's synonyms (else from the UCF-Crime category in the key), and
an embedding. Each video is written as one run (`db.repos.runs.write_event_runs`, COPY for a
batch of videos at a time), so re-importing a file replaces its events instead of adding to them.

Example:
    >>> import_uca(app.db, "UCFCrime_Test.json", embeddings=get_embeddings())
    {'videos': 310, 'events': 4331, 'elapsed_s': 21.4, 'events_per_s': 202.4}
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from db import vector_index
from db.repos import runs, videos
from rag.query import read_facets

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from db.database import Database

log = logging.getLogger(__name__)

SOURCE = "import:uca"
# Event type for a sentence naming no behaviour, by UCF-Crime category (the key's prefix).
CATEGORY_TYPES: dict[str, str] = {
    "shoplifting": "theft", "stealing": "theft", "burglary": "theft", "robbery": "theft",
    "fighting": "violent", "assault": "violent", "abuse": "violent", "shooting": "violent",
    "arrest": "anomaly", "arson": "anomaly", "explosion": "anomaly", "roadaccidents": "anomaly",
    "vandalism": "anomaly",
}
TYPE_FROM_CATEGORY = "category"  # attributes["type_from"] of a sentence typed by its video's category
OTHER_TYPE = "other"  # a sentence of a normal video naming no behaviour: searchable, never filtered on
NAMED_ZONES = ("checkout", "exit", "shelf")  # "left"/"centre" in prose are not the frame regions

Progress = Callable[[int, int], None]


class UcaFormatError(ValueError):
    """The file is not in UCA format; the message names the file and what is wrong."""


@dataclass(frozen=True)
class UcaVideo:
    """One UCA video: its key, duration and timed sentences (spans[i] goes with sentences[i])."""

    key: str
    duration: float
    spans: tuple[tuple[float, float], ...]
    sentences: tuple[str, ...]

    @property
    def category(self) -> str:
        """The UCF-Crime category: 'Shoplifting012_x264' -> 'Shoplifting', 'Normal_Videos_3' -> 'Normal'."""
        match = re.match(r"[A-Za-z]+", self.key)
        return match.group(0) if match else ""


def load_uca(path_or_paths: str | Path | Iterable[str | Path]) -> list[UcaVideo]:
    """Read and validate one or more UCA files; a key seen twice keeps its last version."""
    paths = [path_or_paths] if isinstance(path_or_paths, str | Path) else list(path_or_paths)
    if not paths:
        raise UcaFormatError("No UCA file given.")
    found: dict[str, UcaVideo] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist or is not a file.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UcaFormatError(f"{path} is not valid JSON ({exc.__class__.__name__}); expected a UCA file.") from exc
        if not isinstance(data, dict):
            raise UcaFormatError(f"{path} is not a UCA file: expected an object of videos.")
        for key, entry in data.items():
            video = _parse_video(path, key, entry)
            if video.key in found:
                log.info("%s: video %s appears again; keeping this version", path, key)
            found[video.key] = video
    return list(found.values())


def _parse_video(path: Path, key: Any, entry: Any) -> UcaVideo:
    where = f"{path}, video {key!r}"
    if not isinstance(entry, dict) or not {"timestamps", "sentences"} <= entry.keys():
        raise UcaFormatError(f"{where} is not in UCA format: expected duration, timestamps and sentences.")
    timestamps, sentences = entry["timestamps"], entry["sentences"]
    if not isinstance(timestamps, list) or not isinstance(sentences, list) or len(timestamps) != len(sentences):
        raise UcaFormatError(f"{where} has {len(timestamps) if isinstance(timestamps, list) else 'no'} "
                             f"timestamps for {len(sentences) if isinstance(sentences, list) else 'no'} sentences.")
    spans: list[tuple[float, float]] = []
    for span in timestamps:
        try:
            start, end = (float(t) for t in span)
        except (TypeError, ValueError) as exc:
            raise UcaFormatError(f"{where} has a timestamp that is not [start, end]: {span!r}.") from exc
        if not (math.isfinite(start) and math.isfinite(end)):
            raise UcaFormatError(f"{where} has a timestamp that is not a number: {span!r}.")
        start, end = max(0.0, min(start, end)), max(0.0, max(start, end))
        spans.append((start, end))
    if not all(isinstance(s, str) for s in sentences):
        raise UcaFormatError(f"{where} has a sentence that is not text.")
    try:
        duration = float(entry.get("duration") or 0.0)
    except (TypeError, ValueError) as exc:
        raise UcaFormatError(f"{where} has a duration that is not a number.") from exc
    duration = max(duration, max((end for _, end in spans), default=0.0))
    return UcaVideo(str(key), duration, tuple(spans), tuple(s.strip() for s in sentences))


def typed_by_category(attributes: dict[str, Any] | None) -> bool:
    """True for an imported sentence whose type comes from its video's category, not from its words."""
    return (attributes or {}).get("type_from") == TYPE_FROM_CATEGORY


def describe_sentence(sentence: str, category: str = "") -> dict[str, Any]:
    """Event type, zone, keywords and person attributes read from one sentence.

    The type is the most specific behaviour the question parser's vocabulary finds in the
    sentence (theft before picking before walking...), else the category's type, else 'other'.
    """
    facets = read_facets(sentence)
    category_type = CATEGORY_TYPES.get(category.lower())
    kind = facets["event_types"][0] if facets["event_types"] else (category_type or OTHER_TYPE)
    attributes: dict[str, Any] = {}
    for key, values in (("age_group", facets["age_groups"]), ("gender", facets["genders"]),
                        ("clothing_colour", facets["colours"])):
        if values:
            attributes[key] = values[0] if len(values) == 1 else list(values)
    zone = next((z for z in facets["zones"] if z in NAMED_ZONES), None)
    keywords = [kind, *facets["event_types"], *facets["age_groups"], *facets["genders"], *facets["colours"],
                *([zone] if zone else []), *([category.lower()] if category else [])]
    if not facets["event_types"] and category_type:
        attributes["type_from"] = TYPE_FROM_CATEGORY  # the answer says so: the sentence itself names no behaviour
    return {"type": kind, "zone": zone, "attributes": attributes, "keywords": list(dict.fromkeys(keywords))}


def uca_events(video: UcaVideo, vectors: np.ndarray | Sequence[Sequence[float]] | None) -> list[dict]:
    """Event dicts of one video for `write_event_runs` (vectors[i] is the embedding of sentence i)."""
    events: list[dict] = []
    used: set[tuple[str, float]] = set()
    for index, ((start, end), sentence) in enumerate(zip(video.spans, video.sentences)):
        facts = describe_sentence(sentence, video.category)
        # the run's unique key is (video, run, type, track, start): two sentences of one type
        # starting together would collide, so the later one starts a millisecond after
        while (facts["type"], round(start, 6)) in used:
            start += 0.001
        used.add((facts["type"], round(start, 6)))
        events.append({
            "track_number": None, "type": facts["type"], "t_start": start, "t_end": max(end, start),
            "frame": None, "bbox": None, "zone": facts["zone"], "confidence": 1.0,  # human annotation
            "attributes": {"source": "uca", "category": video.category, "sentence_index": index,
                           **facts["attributes"]},
            "description": sentence, "keywords": facts["keywords"], "highlight_key": None,
            "embedding": None if vectors is None else vectors[index],
        })
    return events


def _chunks(items: Sequence[UcaVideo], min_sentences: int) -> Iterator[list[UcaVideo]]:
    """Consecutive videos grouped until a group holds at least `min_sentences` sentences."""
    group: list[UcaVideo] = []
    count = 0
    for item in items:
        group.append(item)
        count += len(item.sentences)
        if count >= min_sentences:
            yield group
            group, count = [], 0
    if group:
        yield group


# sentences embedded (and videos written) together: sorted by length, a few thousand sentences pad
# far less than a few hundred (UCA: 569 against 348 sentences/s), at ~6 MB of vectors
IMPORT_BATCH = 4096


def import_uca(db: Database, path_or_paths: str | Path | Iterable[str | Path], *,
               embeddings: Embeddings | None = None, batch: int = IMPORT_BATCH,
               progress: Progress | None = None) -> dict[str, float]:
    """Import UCA files as media-less videos and their events; re-importing replaces them.

    The next batch of sentences is embedded in a background thread while the current one
    is written (torch and the database server both work outside the GIL).

    Args:
        db: the database.
        path_or_paths: one UCA JSON file or several.
        embeddings: LangChain embeddings for the sentences (default: the app's model).
        batch: sentences embedded together, then written in one transaction (bigger pads less).
        progress: called as progress(events_done, events_total) after each batch.

    Returns:
        {videos, events, elapsed_s, events_per_s, embed_s, write_s, index_deferred, index_s}: the
        speed includes embedding and any index rebuild (see `db.vector_index`); embed_s and
        write_s are the time spent in each (they overlap).
    """
    started = time.perf_counter()
    items = load_uca(path_or_paths)
    if embeddings is None:
        from core.runtime.embeddings import get_embeddings

        embeddings = get_embeddings(db.settings)
    total = sum(len(v.sentences) for v in items)
    groups = list(_chunks(items, max(1, batch)))
    timings = {"embed_s": 0.0, "write_s": 0.0}

    known: dict[str, np.ndarray] = {}  # UCA repeats some sentences ("A blue car passed by"): embed once

    def embed(group: list[UcaVideo]) -> list[np.ndarray]:
        began = time.perf_counter()
        texts = [s for video in group for s in video.sentences]
        fresh = list(dict.fromkeys(t for t in texts if t not in known))
        if fresh:
            known.update(zip(fresh, np.asarray(embeddings.embed_documents(fresh), dtype=np.float32)))
        timings["embed_s"] += time.perf_counter() - began
        return [known[t] for t in texts]

    done = 0
    if progress:
        progress(0, total)
    # a load that at least doubles the table builds the HNSW graph once at the end instead of row by row
    with vector_index.deferred_vector_index(db, adding=total) as index_report, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="uca-embed") as pool:
        pending = pool.submit(embed, groups[0]) if groups else None
        for i, group in enumerate(groups):
            vectors = pending.result()
            pending = pool.submit(embed, groups[i + 1]) if i + 1 < len(groups) else None
            began = time.perf_counter()
            offset = 0
            with db.connection() as conn:  # one transaction per group: a crash leaves whole videos
                # a crash may lose the last commits but never half a video; re-importing redoes them
                conn.execute("SET LOCAL synchronous_commit TO off")
                ids = videos.upsert_media_less(conn, [(v.key, v.duration) for v in group], source=SOURCE)
                batch_runs = []
                for video in group:
                    count = len(video.sentences)
                    own = vectors[offset:offset + count]
                    offset += count
                    batch_runs.append((ids[video.key], uuid.uuid4(), uca_events(video, own)))
                done += runs.write_event_runs(conn, batch_runs)
            timings["write_s"] += time.perf_counter() - began
            if progress:
                progress(done, total)
    elapsed = time.perf_counter() - started
    log.info("imported %d UCA videos, %d events in %.1f s", len(items), done, elapsed)
    return {"videos": len(items), "events": done, "elapsed_s": round(elapsed, 3),
            "events_per_s": round(done / elapsed, 1) if elapsed > 0 else 0.0,
            "embed_s": round(timings["embed_s"], 3), "write_s": round(timings["write_s"], 3),
            "index_deferred": index_report["deferred"], "index_s": index_report["index_s"]}


def retime_uca(items: Sequence[UcaVideo], *, copies: int, seed: int = 0, start: int = 0,
               min_duration: float = 60.0, max_duration: float = 1800.0) -> Iterator[tuple[UcaVideo, list[int]]]:
    """Synthetic videos made of the UCA sentences at new times, for benchmarks at scale.

    Each copy draws a random source video, a random length and scatters that video's
    sentences over it (same span lengths, sorted by time), so every synthetic event
    reuses a real sentence and hence its embedding.

    Args:
        items: the source videos (e.g. `load_uca(...)`).
        copies: how many synthetic videos to make.
        seed: for repeatable output.
        start: number of the first copy (names stay unique across several calls).
        min_duration, max_duration: bounds of the synthetic videos' lengths (seconds).

    Yields:
        (synthetic video named '<key>~<start + n>', source rows): source_rows[i] is the index of
        sentence i in the flat list of all sentences of `items`, in order, so a caller
        holding one embedding per source sentence looks its vector up without re-embedding.
    """
    rng = random.Random(seed)
    offsets, running = [], 0
    for video in items:
        offsets.append(running)
        running += len(video.sentences)
    usable = [i for i, v in enumerate(items) if v.sentences]
    for n in range(copies):
        source_index = rng.choice(usable)
        source = items[source_index]
        duration = rng.uniform(min_duration, max_duration)
        spans = []
        for start, end in source.spans:
            length = min(end - start, duration)
            begin = rng.uniform(0.0, duration - length)
            spans.append((round(begin, 1), round(begin + length, 1)))
        order = sorted(range(len(spans)), key=lambda i: spans[i])
        video = UcaVideo(f"{source.key}~{start + n}", round(duration, 1), tuple(spans[i] for i in order),
                         tuple(source.sentences[i] for i in order))
        yield video, [offsets[source_index] + i for i in order]
