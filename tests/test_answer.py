"""Answers: the deterministic grounded composer and the LLM chain with a fake chat model."""

from __future__ import annotations

import re

from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from rag.answer import AnswerGenerator, GroundedComposer, LLMAnswerGenerator, keep_valid_citations
from rag.query import parse_question


def _event(event_id: int, kind: str, t_start: float, t_end: float, *, track: int | None = None,
           zone: str | None = "shelf", attributes: dict | None = None, description: str = "") -> Document:
    return Document(
        page_content=description or f"A person {kind} at the {zone}.",
        metadata={
            "event_id": event_id, "video_id": "v1", "t_start": t_start, "t_end": t_end, "type": kind,
            "zone": zone, "confidence": 0.8, "attributes": attributes or {}, "track_number": track,
            "highlight_key": f"highlights/{event_id}.jpg",
        },
    )


THEFT = _event(12, "theft", 192.4, 200.0, track=3, attributes={
    "age_group": "young", "gender": "male", "clothing_colour": "red",
}, description="A young man put a bottle inside his jacket.")
WALKS = [
    _event(21, "walking", 10.0, 18.0, track=1, zone="centre"),
    _event(22, "walking", 40.0, 47.0, track=2, zone="left"),
    _event(23, "walking", 95.0, 99.0, track=2, zone="right"),  # the same person again
    _event(24, "walking", 130.0, 136.0, track=4, zone="exit"),
]


def _recording(reply: str) -> tuple[FakeListChatModel, list[str]]:
    """A fake chat model that answers `reply` and keeps each prompt it was sent."""
    seen: list[str] = []

    class Recording(FakeListChatModel):
        def _call(self, messages, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            seen.append("\n".join(str(m.content) for m in messages))
            return super()._call(messages, *args, **kwargs)

    return Recording(responses=[reply]), seen


def _cited_in_text(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[E(\d+)\]", text)]


def test_composer_says_yes_with_time_who_where_and_citation() -> None:
    question = "any theft between minute 3 and 5?"
    answer = GroundedComposer().answer(question, parse_question(question), [THEFT, *WALKS], [])
    assert answer.text.splitlines()[0] == "Yes. 1 theft event between 03:00 and 05:00:"
    assert "03:12–03:20 theft at the shelf, young male in red" in answer.text
    assert answer.cited_event_ids == [12] == _cited_in_text(answer.text)


def test_a_heading_asked_keeps_the_walks_that_way_and_says_it() -> None:
    walks = [_event(40 + n, "walking", 10.0 * n, 10.0 * n + 4, track=n, attributes={"direction": way})
             for n, way in enumerate(["left", "right", "left", "away"])]
    walks.append(_event(45, "walking", 60.0, 64.0, track=9))  # no heading known: kept, as any unknown
    question = "how many people walked to the left?"
    answer = GroundedComposer().answer(question, parse_question(question), walks, [])
    assert answer.text.splitlines()[0] == "3 people walked to the left:"
    assert answer.cited_event_ids == [40, 42, 45]


def test_composer_says_when_the_hiding_place_asked_is_not_the_one_seen() -> None:
    waist = _event(30, "concealment", 68.0, 69.0, attributes={"hidden_at": "waist"})
    composer = GroundedComposer()

    def head(question: str, hits: list[Document]) -> str:
        return composer.answer(question, parse_question(question), hits, []).text.splitlines()[0]

    assert head("was anyone hiding things in a bag?", [waist]) == (
        "Yes. 1 concealment event; none was seen hidden in a bag (seen at the waist):")
    # a pocket is at the waist, as the rule says: no note
    assert head("did anyone pocket something?", [waist]) == "Yes. 1 concealment event:"
    bag = _event(31, "concealment", 80.0, 81.0, attributes={"hidden_at": "bag"})
    assert head("was anyone hiding things in a bag?", [waist, bag]) == "Yes. 2 concealment events:"
    # a vanished item says no place: the note says so rather than guessing
    vanished = _event(32, "concealment", 90.0, 91.0, attributes={"item_vanished": True})
    assert head("did someone put something in their jacket?", [vanished]) == (
        "Yes. 1 concealment event; none was seen hidden inside the clothing (where the item went was not seen):")


def test_composer_says_which_types_only_the_video_category_backs() -> None:
    # imported UCA sentences of a Shoplifting video that name no behaviour are typed theft by the category
    inferred = _event(31, "theft", 50.0, 55.0, zone=None, attributes={"type_from": "category"},
                      description="The woman kept talking to the waiter.")
    stated = _event(32, "theft", 70.0, 75.0, zone=None, description="The man stole a phone.")
    question = "any theft?"
    answer = GroundedComposer().answer(question, parse_question(question), [inferred, stated], [])
    head, first, second = answer.text.splitlines()
    assert head == ("Yes. 2 theft events (1 of 2 typed only by their video's category; "
                    "the annotation does not say so):")
    assert first.startswith("- 00:50–00:55 theft (video category): The woman kept talking")
    assert second.startswith("- 01:10–01:15 theft: The man stole a phone")
    only = GroundedComposer().answer(question, parse_question(question), [inferred], [])
    assert "(all typed only by their video's category" in only.text.splitlines()[0]
    # and so does the LLM's prompt
    model, seen = _recording("Maybe [E31].")
    LLMAnswerGenerator(model).answer(question, parse_question(question),
                                                                     [inferred, stated], [])
    assert "[E31] 00:50–00:55 theft, type taken from the video's category, not stated" in seen[0]
    assert "[E32] 01:10–01:15 theft, confidence 0.80: The man stole a phone." in seen[0]


def test_composer_says_plainly_when_nothing_matches_the_window() -> None:
    question = "any theft between minute 3 and 5?"
    moved = _event(13, "theft", 20.0, 25.0)
    answer = GroundedComposer().answer(question, parse_question(question), [moved, *WALKS], [])
    assert answer.text == "No theft events match between 03:00 and 05:00."
    assert answer.cited_event_ids == []
    empty = GroundedComposer().answer("did anyone collapse?", parse_question("did anyone collapse?"), [], [])
    assert empty.text == "No collapse events match."
    # the place in the question's own words, and every place asked
    for asked, said in [
        ("any theft at the entrance?", "No theft events at the entrance match."),
        ("did anyone fall by the tills?", "No collapse events at the till match."),
        ("any theft at the checkout on the left?", "No theft events at the checkout on the left match."),
        ("any loitering at the door or the shelves?", "No loitering events at the door or shelf match."),
    ]:
        assert GroundedComposer().answer(asked, parse_question(asked), [], []).text == said


def test_composer_counts_distinct_people() -> None:
    question = "how many people walked by?"
    answer = GroundedComposer().answer(question, parse_question(question), WALKS, [])
    assert answer.text.splitlines()[0] == "3 people walked by (4 walking events):"
    assert answer.cited_event_ids == [21, 22, 23, 24]


def test_composer_count_in_window_and_times_as_mmss() -> None:
    question = "how many people walked by in the first 2 minutes?"
    answer = GroundedComposer().answer(question, parse_question(question), WALKS, [])
    assert answer.text.splitlines()[0] == "2 people walked by between 00:00 and 02:00 (3 walking events):"
    assert "- 01:35–01:39 walking on the right: A person walking at the right [E23]" in answer.text.splitlines()
    assert 24 not in answer.cited_event_ids  # 02:10 is outside the window


def test_composer_cites_only_hits_never_context() -> None:
    question = "what happened at the exit?"
    context = [_event(99, "standing", 131.0, 140.0, zone="exit")]
    answer = GroundedComposer().answer(question, parse_question(question), WALKS, context)
    assert answer.cited_event_ids == [24]
    assert set(_cited_in_text(answer.text)) == {24}


def test_composer_attribute_contradiction_is_excluded_unknown_is_kept() -> None:
    question = "did a woman pick up anything?"
    picks = [
        _event(31, "picking", 60.0, 62.0, track=5, attributes={"gender": "male"}),
        _event(32, "picking", 70.0, 72.0, track=6, attributes={"gender": "unknown"}),
    ]
    answer = GroundedComposer().answer(question, parse_question(question), picks, [])
    # kept, and the answer says the one it kept is only unknown, not known to be a woman
    assert answer.text.startswith("Possibly. 1 picking event (the gender was not recognised):")
    assert answer.cited_event_ids == [32]
    woman = _event(33, "picking", 80.0, 82.0, track=7, attributes={"gender": "female"})
    both = GroundedComposer().answer(question, parse_question(question), [*picks, woman], []).text
    assert both.startswith("Yes. 2 picking events (1 of them with the gender not recognised):")
    sure = GroundedComposer().answer(question, parse_question(question), [woman], []).text
    assert sure.startswith("Yes. 1 picking event:")


def test_an_item_asked_keeps_the_takes_of_it_and_says_when_it_was_not_recognised() -> None:
    question = "did anyone take a bottle?"
    bottle = _event(41, "picking", 10.0, 12.0, track=1, attributes={"object": "bottle"})
    cup = _event(42, "picking", 20.0, 22.0, track=2, attributes={"object": "cup"})
    unknown = _event(43, "picking", 30.0, 32.0, track=3)
    walk = _event(44, "walking", 40.0, 46.0, track=4)  # a walk reports no item: not an answer
    filters = parse_question(question)
    answer = GroundedComposer().answer(question, filters, [bottle, cup, unknown, walk], [])
    assert answer.text.splitlines()[0] == "Yes. 2 picking events (1 of them with the item not recognised):"
    assert answer.cited_event_ids == [41, 43]
    only_unknown = GroundedComposer().answer(question, filters, [unknown, cup], []).text
    assert only_unknown.splitlines()[0] == "Possibly. 1 picking event (the item was not recognised):"
    assert GroundedComposer().answer(question, filters, [cup, walk], []).text == "No picking events of a bottle match."
    # an event that is no take reports no item: kept for the rest of the question, and no note of its item
    both = "did anyone take a bottle and push someone?"
    push = _event(45, "violent", 50.0, 52.0, track=5)
    mixed = GroundedComposer().answer(both, parse_question(both), [bottle, push], []).text
    assert mixed.splitlines()[0] == "Yes. 2 matching events:"
    apples = parse_question("did anyone steal apples?")
    assert GroundedComposer().answer("", apples, [], []).text == "No theft events of an apple match."


def test_the_largest_crowd_is_the_one_with_the_most_people() -> None:
    crowds = [_event(50 + n, "crowding", 10.0 * n, 10.0 * n + 3, zone="centre", attributes={"people": people})
              for n, people in enumerate([6, 8, 7, 8])]
    question = "when was the biggest crowd?"
    answer = GroundedComposer().answer(question, parse_question(question), crowds, [])
    # of the two crowds of 8 the earlier comes first
    assert answer.text.splitlines()[0] == (
        "The largest of 4 crowding events had 8 people (00:10–00:13) [E51]; largest first:")
    assert answer.cited_event_ids == [51, 53, 52, 50]


def test_composer_is_an_answer_generator() -> None:
    assert isinstance(GroundedComposer(), AnswerGenerator)


# ---------------------------------------------------------------------------
# LLM answers
# ---------------------------------------------------------------------------

def _fake(reply: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))


def test_llm_answer_drops_ids_that_were_not_retrieved() -> None:
    hits = [_event(1, "theft", 192.0, 200.0, description="A man hid a bottle in his jacket.")]
    reply = "Yes: a man hid a bottle at 03:12 [E1], and another person ran off [E999]."
    generator = LLMAnswerGenerator(_fake(reply))
    question = "any theft between minute 3 and 5?"
    answer = generator.answer(question, parse_question(question), hits, [])
    assert answer.cited_event_ids == [1]
    assert "E999" not in answer.text
    assert answer.text == "Yes: a man hid a bottle at 03:12 [E1], and another person ran off."
    assert isinstance(generator, AnswerGenerator)


def test_llm_prompt_lists_events_with_ids_and_allows_context_citations() -> None:
    hits = [THEFT]
    context = [_event(40, "walking", 185.0, 190.0, track=3)]
    model, seen = _recording("He walked in [E40] then hid a bottle [E12, E7].")
    question = "any theft between minute 3 and 5?"
    answer = LLMAnswerGenerator(model).answer(question, parse_question(question), hits, context)

    assert "[E12] 03:12–03:20 theft, zone shelf, confidence 0.80, young male in red" in seen[0]
    assert "[E40] 03:05–03:10 walking" in seen[0]
    assert "between 03:00 and 05:00" in seen[0]
    assert answer.cited_event_ids == [40, 12]
    assert answer.text == "He walked in [E40] then hid a bottle [E12]."


def test_llm_prompt_shows_the_model_at_most_50_events_and_the_total() -> None:
    # a count over a busy day: 3,000 walks, the first reranked
    walks = [_event(1000 + n, "walking", float(n), n + 3.0, track=n) for n in range(3000)]
    walks[2999].metadata["rerank_score"] = 0.9
    question = "how many people walked by?"
    model, seen = _recording("3,000 people walked by.")
    LLMAnswerGenerator(model).answer(
        question, parse_question(question), walks, [])
    assert "(best first; 50 of the 3000 that match)" in seen[0]
    assert seen[0].count("\n[E") == 50
    assert "[E3999]" in seen[0] and "[E1000]" in seen[0] and "[E1049]" not in seen[0]


def test_llm_answer_without_events_or_with_a_failing_model_uses_the_composer() -> None:
    question = "any theft between minute 3 and 5?"
    filters = parse_question(question)
    answer = LLMAnswerGenerator(_fake("There were 4 thefts [E5].")).answer(question, filters, [], [])
    assert answer.text == "No theft events match between 03:00 and 05:00."
    assert answer.cited_event_ids == []

    class Broken(FakeListChatModel):
        def _call(self, *args, **kwargs):  # noqa: ANN002, ANN003
            raise TimeoutError("model timed out")

    fallback = LLMAnswerGenerator(Broken(responses=["unused"])).answer(question, filters, [THEFT], [])
    assert fallback.cited_event_ids == [12] and fallback.text.startswith("Yes.")


def test_keep_valid_citations_handles_groups_and_parentheses() -> None:
    text, ids = keep_valid_citations("A [E3; E4] then B (E5) and C [E8] .", [3, 5])
    assert (text, ids) == ("A [E3] then B [E5] and C.", [3, 5])


def test_relative_answers_follow_the_anchor_person_and_keep_to_the_minute() -> None:
    from rag.relative import compose, distinct_anchors, follows

    theft = _event(60, "theft", 63.0, 69.0, track=3)
    hidden = _event(61, "concealment", 68.8, 69.2, track=3)  # the theft's own hiding: one moment
    other_theft = _event(62, "theft", 200.0, 204.0, track=8)
    assert [d.metadata["event_id"] for d in distinct_anchors([hidden, other_theft, theft])] == [60, 62]

    after = parse_question("what did he do after the theft?")
    walk_away = _event(63, "walking", 70.0, 80.0, track=3)
    someone_else = _event(64, "walking", 70.0, 80.0, track=4)
    too_late = _event(65, "standing", 130.0, 140.0, track=3)  # 61 s after the theft ended
    with_him = _event(66, "walking", 75.0, 78.0, track=5, attributes={"related_tracks": [3]})
    kept = [d.metadata["event_id"] for d in (walk_away, someone_else, too_late, with_him, hidden)
            if follows(after, theft, d)]
    assert kept == [63, 66, 61]
    before = parse_question("what happened just before the theft?")
    earlier = _event(67, "picking", 50.0, 55.0, track=3)
    long_ago = _event(68, "picking", 20.0, 30.0, track=3)  # ended 33 s before: past the 20 s of "just"
    assert [follows(before, theft, d) for d in (earlier, long_ago, walk_away)] == [True, False, False]

    longer = parse_question("what did he do in the 5 minutes after the theft?")
    assert follows(longer, theft, too_late)  # 61 s after: inside 5 minutes
    text, _ = compose(longer, [(theft, [too_late])], anchors_found=1)
    assert text.splitlines()[0] == "After the theft at 01:03–01:09 [E60], the same person within 5 min:"
    around = parse_question("what happened before and after the theft?")
    assert [follows(around, theft, d) for d in (earlier, long_ago, walk_away, too_late, someone_else)] == [
        True, True, True, False, True]

    crowd = _event(69, "crowding", 10.0, 20.0, zone="centre")
    text, cited = compose(parse_question("what did they do after the crowd?"), [(crowd, [])], anchors_found=2)
    assert text.splitlines() == ["After the crowd at 00:10–00:20 [E69], everyone within 1 min:",
                                 "- nothing of that was seen.", "",
                                 "... and 1 more crowding event; name a time or a video to ask about one of them."]
    assert cited == [69]


def test_a_list_over_several_videos_says_each_events_video_and_one_video_does_not() -> None:
    def theft(event_id: int, video: str) -> Document:
        doc = _event(event_id, "theft", 10.0 * event_id, 10.0 * event_id + 4, description="A man hides a bottle.")
        doc.metadata.update({"video_id": video, "video_name": f"{video}.mp4"})
        return doc

    filters = parse_question("any theft?")
    mixed = GroundedComposer().answer("any theft?", filters, [theft(1, "till"), theft(2, "door")], []).text
    assert mixed.splitlines()[1:] == ["- till.mp4 00:10–00:14 theft at the shelf: A man hides a bottle [E1]",
                                      "- door.mp4 00:20–00:24 theft at the shelf: A man hides a bottle [E2]"]
    alone = GroundedComposer().answer("any theft?", filters, [theft(1, "till"), theft(3, "till")], []).text
    assert alone.splitlines()[1] == "- 00:10–00:14 theft at the shelf: A man hides a bottle [E1]"


def test_a_fight_count_counts_fights_and_everyone_in_them() -> None:
    fights = [_event(31, "violent", 20.0, 22.0, track=1, attributes={"related_tracks": [2]}),
              _event(32, "violent", 80.0, 83.0, track=3, attributes={"related_tracks": [1, 4]})]
    question = "how many fights were there?"
    answer = GroundedComposer().answer(question, parse_question(question), fights, [])
    assert answer.text.splitlines()[0] == "2 violent events (4 people involved):"
    # a take's related track is the item taken, never a person
    takes = [_event(41, "picking", 5.0, 7.0, track=1, attributes={"related_tracks": [9]})]
    question = "how many people picked up items?"
    assert GroundedComposer().answer(question, parse_question(question), takes, []).text.splitlines()[0] == (
        "1 person picked up an item:")
