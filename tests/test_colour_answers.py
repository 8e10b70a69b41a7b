"""A colour asked and not found: the answer names the colours the people who fit the rest were read as."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.answer import colours_of_people, colours_seen_note
from services.ask import ask
from tests.conftest import analysed_from_tracks, write_clip
from tests.synthetic import line, person


def _doc(video, track, colour, event_id):
    return Document(page_content="", metadata={"event_id": event_id, "video_id": video, "track_number": track,
                                               "attributes": {"clothing_colour": colour}})


def test_each_person_is_counted_once_by_the_colour_they_were_read_as():
    docs = [_doc("v", 1, "grey", 1), _doc("v", 1, "grey", 2), _doc("v", 2, "grey", 3), _doc("w", 1, "black", 4),
            _doc("v", 3, "unknown", 5)]
    note = colours_seen_note(colours_of_people(docs))
    assert note.startswith(" The people who fit the rest of the question were read as grey "
                           "(2 people), black (1 person);")
    assert "pale or dim top often reads as grey or white" in note
    assert colours_seen_note(colours_of_people([_doc("v", 3, "unknown", 5)])) == "" and colours_seen_note([]) == ""


@pytest.fixture()
def shop(app, clean_db, tmp_path) -> dict:
    """A completed video with a man in grey standing still and a woman in black walking across."""
    clip = write_clip(tmp_path / "shop.mp4", seconds=20.5, fps=5, size=(1280, 720), moving_box=False)
    tracks = [person(3, 0.0, 20.0, (650.0, 500.0), height=300.0,
                     attributes={"gender": "male", "clothing_colour": "grey"}),
              person(5, 0.0, 20.0, line((0.0, 100.0, 650.0), (20.0, 1200.0, 650.0)), height=200.0,
                     attributes={"gender": "female", "clothing_colour": "black"})]
    return analysed_from_tracks(app, clip, tracks)


def test_a_colour_nobody_was_read_as_names_the_colours_that_were(app, shop):
    yellow = ask(app, question="what did the person in yellow do?", video=shop["id"])
    assert yellow.citations == []
    assert yellow.answer.startswith("No events involving a person in yellow match.")
    assert "were read as black (1 person), grey (1 person);" in yellow.answer \
        or "were read as grey (1 person), black (1 person);" in yellow.answer
    # the rest of the question still holds: a man in yellow points at the man only
    man = ask(app, question="what did the man in yellow do?", video=shop["id"])
    assert "were read as grey (1 person);" in man.answer and "black" not in man.answer
    found = ask(app, question="what did the person in grey do?", video=shop["id"])
    assert found.citations and "were read as" not in found.answer


def test_a_count_of_a_colour_nobody_was_read_as_names_the_colours_that_were(app, shop):
    answer = ask(app, question="how many people wore yellow?", video=shop["id"]).answer
    assert answer.startswith("0 distinct people were seen")
    assert "were read as black (1 person), grey (1 person);" in answer \
        or "were read as grey (1 person), black (1 person);" in answer
    assert "were read as" not in ask(app, question="how many people wore grey?", video=shop["id"]).answer
