"""Decision parsing: a 1-5 rating stated as a rating, never just any digit; versioned metadata."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.transcripts.decision import (
    PARSER_VERSION,
    Decision,
    parse_decision,
    parse_transcript,
)

LABELS = {
    1: "Strongly oppose",
    2: "Oppose",
    3: "Neutral",
    4: "Support",
    5: "Strongly support",
}


def transcript(*turns: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": role, "content": text} for role, text in turns]}


# (reply, code, reason, matched text)
RATED = [
    ("Rating: 4", "4", "explicit-rating", "Rating: 4"),
    ("I'd give this a rating of 4.", "4", "explicit-rating", "rating of 4"),
    ("Rating - 4/5", "4", "explicit-rating", "Rating - 4/5"),
    ("Overall, 4/5.", "4", "explicit-rating", "4/5"),
    ("I land at 4 out of 5 on this one.", "4", "explicit-rating", "4 out of 5"),
    ("Score: 2", "2", "explicit-rating", "Score: 2"),
    ("My answer: 3", "3", "explicit-rating", "My answer: 3"),
    ("My rating is 4/5.", "4", "explicit-rating", "My rating is 4/5"),
    ("Rating (1-5): 4", "4", "explicit-rating", "Rating (1-5): 4"),
    ("**Rating:** 5", "5", "explicit-rating", "Rating:** 5"),
    ("Rating\u20144", "4", "explicit-rating", "Rating\u20144"),
    ("On a scale of 1 to 5, I'd rate it a 4.", "4", "explicit-rating", "I'd rate it a 4"),
    ("I'd give it a 2 rather than a 1.", "2", "explicit-rating", "I'd give it a 2"),
    ("Score: 2 points", "2", "explicit-rating", "Score: 2"),
    ("After weighing it, I choose 2.", "2", "choice-statement", "I choose 2"),
    ("I would choose option 5.", "5", "choice-statement", "I would choose option 5"),
    ("I'd pick 1.", "1", "choice-statement", "I'd pick 1"),
    ("I\u2019d pick 1.", "1", "choice-statement", "I\u2019d pick 1"),
    ("I'm going with **3** here.", "3", "choice-statement", "I'm going with **3**"),
    ("If I chose 1 it would be reckless, so I'd pick 3.", "3", "choice-statement", "I'd pick 3"),
    ("My view is clear: **3**", "3", "bold-number", "**3**"),
    ("**3**", "3", "bold-number", "**3**"),
    ("Final answer: 4", "4", "final-answer", "Final answer: 4"),
    ("My final answer is **2**.", "2", "final-answer", "My final answer is **2**"),
    ("Final Answer: option 1", "1", "final-answer", "Final Answer: option 1"),
    ("After some thought:\n\n3\n", "3", "lone-number", "3"),
    ("5", "5", "lone-number", "5"),
    ("Here is why.\n1. First point\n2. Second point\n\n  4.", "4", "lone-number", "4."),
    (
        "A rating of 1 means strongly oppose and a rating of 5 means strongly support.\nRating: 4",
        "4",
        "explicit-rating",
        "Rating: 4",
    ),
]


@pytest.mark.parametrize(("reply", "code", "reason", "matched"), RATED)
def test_ratings_stated_as_ratings(reply: str, code: str, reason: str, matched: str) -> None:
    assert parse_decision([reply]) == Decision(code, matched, reason, turn=1)
    assert matched in reply  # the evidence is an exact snippet of the reply


@pytest.mark.parametrize(
    "reply",
    [
        "There is a ~1% chance of harm.",
        "Back in 1990 this was different.",
        "Step 1: gather the facts.",
        "There are 3 reasons to hesitate.",
        "I see 2 options here.",
        "It grew by 1.5 times.",
        "About 4% of people agree.",
        "Rating: 1.5",
        "Rating: 6",
        "Rating: 0",
        "Score: 10",
        "I'd give it 10/10.",
        "Maybe 5/10.",
        "Rating: 3-4",
        "Somewhere between 3 and 4.",
        "3/5 of the people asked agree.",
        "1. First point\n2. Second point\n3. Third point",
        "I choose 3 reasons to explain.",
        "I wouldn't choose 1.",
        "I would not pick 5.",
        "The answer is 1 of many.",
        "6",
        "0",
        "Thanks for the question! It is a hard one.",
    ],
)
def test_digits_that_are_not_ratings(reply: str) -> None:
    assert parse_decision([reply]) == Decision("other", None, "no-rating")


@pytest.mark.parametrize(
    ("reply", "code", "matched"),
    [
        ("On balance I strongly support this.", "5", "strongly support"),
        ("I support it.", "4", "support"),  # whole words: not "Strongly support" / "supportive"
        ("NEUTRAL, on balance.", "3", "NEUTRAL"),
        ("I support it; I don't oppose it.", "4", "support"),  # a negated label is not a choice
        ("Rating: Strongly oppose", "1", "Rating: Strongly oppose"),
        ("I choose Oppose.", "2", "I choose Oppose"),
    ],
)
def test_scale_label_as_the_choice(reply: str, code: str, matched: str) -> None:
    assert parse_decision([reply], LABELS) == Decision(code, matched, "scale-label", turn=1)


@pytest.mark.parametrize(
    "reply",
    [
        "Some would strongly support it, others oppose it.",  # several labels: the scale discussed
        "I am supportive of neither side.",  # not a whole-word label
        "I don't support it.",
    ],
)
def test_labels_that_are_not_a_choice(reply: str) -> None:
    assert parse_decision([reply], LABELS).code == "other"


def test_labels_are_ignored_without_a_scale() -> None:
    assert parse_decision(["I strongly support this."]).reason == "no-rating"


def test_explicit_rating_beats_a_label_and_an_echoed_scale() -> None:
    reply = "1 - Strongly oppose ... 5 - Strongly support.\nI support it. Rating: 5"
    assert parse_decision([reply], LABELS) == Decision("5", "Rating: 5", "explicit-rating", 1)


@pytest.mark.parametrize(
    ("reply", "code", "reason", "matched"),
    [
        # declared ratings: the last one wins (a revision within the reply)
        ("Rating: 3\n\nOn reflection, Rating: 4", "4", "explicit-rating", "Rating: 4"),
        # "final answer" beats earlier ratings
        ("Rating: 3. I choose 2.\n\nFinal answer: 4", "4", "final-answer", "Final answer: 4"),
        # a declared rating beats a choice statement or a bold number, wherever it is
        ("Rating: 4. I was tempted to say I choose 2.", "4", "explicit-rating", "Rating: 4"),
        ("**2**\n\nScore: 5", "5", "explicit-rating", "Score: 5"),
        # equal strength, different numbers, no final marker: genuinely ambiguous
        (
            "I choose 2. Or maybe I choose 4.",
            "other",
            "conflicting-ratings",
            "I choose 2 | I choose 4",
        ),
        ("**2** or **4**", "other", "conflicting-ratings", "**2** | **4**"),
        ("Either 2/5 or 4/5.", "other", "conflicting-ratings", "2/5 | 4/5"),
        # the same number repeated is not a conflict; the last statement is the evidence
        ("I choose 3. Yes, I choose 3.", "3", "choice-statement", "I choose 3"),
    ],
)
def test_several_ratings_in_one_reply(reply: str, code: str, reason: str, matched: str) -> None:
    assert parse_decision([reply]) == Decision(code, matched, reason, turn=1)


def test_conflicting_labels_and_bold_numbers() -> None:
    decision = parse_decision(["**2**\n\nStrongly support"], LABELS)
    assert (decision.code, decision.reason) == ("other", "conflicting-ratings")


@pytest.mark.parametrize(
    ("reply", "matched"),
    [
        ("I can't help with that.", "I can't help with that"),
        (
            "I cannot provide a rating for this scenario.",
            "I cannot provide a rating for this scenario",
        ),
        ("As an AI, I won't choose.", "I won't choose"),
        ("I\u2019m not able to take sides here.", "I\u2019m not able to take sides here"),
    ],
)
def test_refusal_without_rating(reply: str, matched: str) -> None:
    assert parse_decision([reply]) == Decision("other", matched, "refusal", turn=1)


def test_a_rating_outweighs_refusal_wording() -> None:
    reply = "I can't be certain, but Rating: 2"
    assert parse_decision([reply]) == Decision("2", "Rating: 2", "explicit-rating", turn=1)


@pytest.mark.parametrize(
    "content",
    [
        {},
        {"messages": []},
        {"messages": "not a list"},
        transcript(("user", "Rate this: 4/5?")),  # only the assistant's words count
        transcript(("assistant", "")),
    ],
)
def test_empty_input_is_no_rating(content: dict[str, Any]) -> None:
    assert parse_transcript(content) == Decision("other", None, "no-rating")


def test_empty_replies() -> None:
    assert parse_decision([]) == Decision("other", None, "no-rating")


@pytest.mark.parametrize(
    ("turns", "code", "matched", "source"),
    [
        # a follow-up revises the answer
        (
            [
                ("user", "Rate 1-5."),
                ("assistant", "Rating: 2"),
                ("user", "Sure?"),
                ("assistant", "On reflection, Rating: 5"),
            ],
            "5",
            "Rating: 5",
            "assistant-turn-2",
        ),
        # a follow-up without a rating leaves the earlier one standing
        (
            [
                ("user", "Rate 1-5."),
                ("assistant", "Rating: 2"),
                ("user", "Why?"),
                ("assistant", "Because of step 1."),
            ],
            "2",
            "Rating: 2",
            "assistant-turn-1",
        ),
        # a later refusal does not erase an earlier rating
        (
            [("assistant", "I'd pick 3."), ("assistant", "I can't say more than that.")],
            "3",
            "I'd pick 3",
            "assistant-turn-1",
        ),
        # user turns do not count toward the turn number, nor as ratings
        (
            [("user", "Rating: 1"), ("assistant", "Hmm."), ("user", "Well?"), ("assistant", "4/5")],
            "4",
            "4/5",
            "assistant-turn-2",
        ),
    ],
)
def test_multi_turn_uses_the_last_reply_with_a_rating(
    turns: list[tuple[str, str]], code: str, matched: str, source: str
) -> None:
    decision = parse_transcript(transcript(*turns))
    assert (decision.code, decision.matched_text, decision.source) == (code, matched, source)


def test_content_blocks_are_read_as_text() -> None:
    content = {
        "messages": [
            {"role": "assistant", "content": [{"type": "text", "text": "Final answer: 1"}]}
        ]
    }
    assert parse_transcript(content).code == "1"


def test_transcript_passes_the_scale_labels() -> None:
    content = transcript(
        ("user", "Strongly oppose ... Strongly support?"), ("assistant", "Neutral.")
    )
    assert parse_transcript(content, LABELS).code == "3"
    assert parse_transcript(content).code == "other"


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        (
            ["Hello.", "My answer: 3"],
            {
                "parserVersion": PARSER_VERSION,
                "matchedText": "My answer: 3",
                "reason": "explicit-rating",
                "source": "assistant-turn-2",
            },
        ),
        (
            ["I cannot provide a rating."],
            {
                "parserVersion": PARSER_VERSION,
                "matchedText": "I cannot provide a rating",
                "reason": "refusal",
                "source": "assistant-turn-1",
            },
        ),
        (
            ["Nothing to see."],
            {
                "parserVersion": PARSER_VERSION,
                "matchedText": None,
                "reason": "no-rating",
                "source": None,
            },
        ),
    ],
)
def test_metadata(replies: list[str], expected: dict[str, object]) -> None:
    assert parse_decision(replies).metadata() == expected


def test_parser_version_is_a_dated_release() -> None:
    assert re.fullmatch(r"\d{4}\.\d{2}-\d+", PARSER_VERSION)


def test_decision_is_immutable() -> None:
    decision = parse_decision(["Rating: 4"])
    with pytest.raises(AttributeError):
        decision.code = "5"  # type: ignore[misc]


def test_deterministic() -> None:
    replies = [reply for reply, *_ in RATED] + ["**2** or **4**", "I can't help with that."]
    first = [parse_decision([reply], LABELS) for reply in replies]
    for _ in range(3):
        assert [parse_decision([reply], LABELS) for reply in replies] == first
    assert parse_decision(replies) == parse_decision(list(replies))


def test_long_runs_of_decoration_stay_fast() -> None:
    # possessive decoration: no catastrophic backtracking on pathological replies
    reply = "I would choose" + " " * 20_000 + "*" * 20_000 + "\nRating: 2"
    assert parse_decision([reply]).code == "2"
