"""The analyser and the knowledge index: what a message's words count as, and what an entry covers."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopilot_cli.drafting import KnowledgeIndex
from autopilot_cli.drafting._knowledge import FaqEntry, KnowledgeFile
from autopilot_cli.drafting._offline import confidence_from


def index(*entries: tuple[list[str], str, list[str]]) -> KnowledgeIndex:
    return KnowledgeIndex(KnowledgeFile(faq=[FaqEntry(questions=q, answer=a, tags=t) for q, a, t in entries]))


BIKES = index(
    (["How much does it cost to rent a bike?"], "A city bike costs 15 euros per day.", ["rental", "hire"]),
    (["Do you rent e-bikes?"], "E-bikes rent for 35 euros per day.", ["electric"]),
    (["Do I need ID to rent a bike?"], "Please bring an ID card or passport.", ["passport"]),
    (["How much is a service?"], "A standard service costs 69 euros; parts are extra.", ["tune-up"]),
)


def best(idx: KnowledgeIndex, text: str) -> tuple[int, list[str]]:
    passage = idx.search(text)[0]
    return passage.entry_id, passage.missing


def test_an_e_bike_is_not_a_bike() -> None:
    # "hire", "rent" and "rental" are one thing (the lexicon); an e-bike is not a bike.
    assert best(BIKES, "e-bike hire?") == (1, [])
    assert best(BIKES, "do you do e bike rentals") == (1, [])
    assert best(BIKES, "bike hire?") == (0, [])


def test_id_in_capitals_is_a_word_and_i_d_is_not() -> None:
    assert best(BIKES, "do u need my ID for the rental")[0] == 2
    assert "id" not in BIKES.analyser.query_terms("id like to rent a bike")


def test_the_context_of_a_question_counts() -> None:
    # "it" is the Panasonic motor: the service entry does not account for it.
    entry, missing = best(BIKES, "My e-bike has a Panasonic motor. Can you service it?")
    assert "panason" in missing


def test_small_talk_is_not_a_question() -> None:
    assert BIKES.analyser.query_terms("Hi! How are you today? Hope you are well") == []
    assert best(BIKES, "Hi, how are you doing? How much is a service?") == (3, [])


@pytest.mark.parametrize("text, framed", [
    ("When do you open?", True),
    ("when?", True),
    ("Do I get a tracking number when my order ships?", False),
])
def test_when_frames_a_question_only_when_it_asks_one(text: str, framed: bool) -> None:
    time = BIKES.analyser.term("time")  # the frame's term, as the lexicon names it
    assert (time in BIKES.analyser.query_terms(text)) is framed


def test_synonyms_meet_in_one_term_and_a_phrase_is_one_term() -> None:
    analyser = BIKES.analyser
    assert analyser.query_terms("what's the fee") == analyser.query_terms("what's the price")
    assert analyser.query_terms("can I collect it") == analyser.query_terms("can I pick up") == ["pickup"]
    assert analyser.query_terms("giftcard?") == analyser.query_terms("gift voucher?")


def test_incidental_words_never_count_and_lately_is_not_late() -> None:
    analyser = BIKES.analyser
    assert analyser.query_terms("a voucher for my mum's birthday, for my colleague") == \
        analyser.query_terms("a voucher for my birthday")
    assert analyser.query_terms("is it too late?") != []


def test_a_number_counts_with_its_unit_and_is_never_a_typo() -> None:
    analyser = BIKES.analyser
    assert analyser.query_terms("over 50 euros") == analyser.query_terms("over 50€") == ["50euro"]
    # "15 euros" in the rental answer says nothing of a 15-year-old; 300 is not a typo of 200.
    assert "15" in best(BIKES, "my son is 15, can he rent a bike")[1]
    assert "300euro" in best(BIKES, "a service for 300 euros?")[1]


def test_a_message_of_vague_words_only_matches_nothing() -> None:
    shop = index((["Where is my order?"], "Track it with the link in your email.", ["order status"]))
    assert shop.search("Hello, I have a question regarding my order.") == []
    assert shop.search("where is my order?") != []


@pytest.mark.parametrize("knowledge", [
    Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml",
    Path(__file__).parent / "judgement" / "bikes_knowledge.toml",
])
def test_every_question_of_a_knowledge_file_asked_word_for_word_is_its_entrys_on_its_own(knowledge: Path) -> None:
    idx = KnowledgeIndex.from_file(knowledge)
    for i, entry in enumerate(idx.entries):
        for question in entry.questions:
            passages = idx.search(question)
            confidence, _ = confidence_from(passages)
            assert passages and passages[0].entry_id == i and not passages[0].missing, question
            assert confidence >= 0.85, (question, confidence)


def test_greetings_are_no_topic_but_the_morning_and_the_same_day_are() -> None:
    assert BIKES.analyser.query_terms("Good morning! Good day to you") == []
    assert BIKES.analyser.query_terms("can I pick it up the same day, in the morning") != \
        BIKES.analyser.query_terms("can I pick it up")
