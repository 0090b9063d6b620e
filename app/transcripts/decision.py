"""The decision a model stated in a transcript: a rating "1".."5", or "other".

Deterministic and versioned: the same replies (and scale labels) always give the same
`Decision`, and `PARSER_VERSION` changes whenever these rules do, so stored codes can be
traced to the rules that produced them.

Only a number stated *as a rating* counts, never any digit. Every candidate has a strength:

    4  final       "Final answer: 4", "my final rating is 2"
    3  declared    "Rating: 4", "rating of 4", "Rating - 4/5", "Score: 2", "My answer: 3",
                   "I'd rate it a 4", "I'd give it 3"
    2  stated      "4/5", "4 out of 5", "I choose 2", "I would choose option 5", "I'd pick 1"
    1  formatted   "**3**", a line holding only the number, one scale label from the prompt

A scale label led in by one of the forms above ("Rating: Strongly support", "I choose Support")
takes that form's strength; a label standing alone counts only when it is the single label the
reply mentions (a reply that names several labels is discussing the scale, not choosing).

The deciding reply is the last assistant reply that holds any candidate (a follow-up may revise
the answer). Within it the strongest candidates decide. Final and declared statements are
deliberate, so the last of them wins ("Rating: 3 ... on reflection, Rating: 4" is 4). Stated and
formatted candidates that disagree are genuinely ambiguous: "other" / "conflicting-ratings".
With no candidate anywhere: "other" / "refusal" if a reply declines, else "other" / "no-rating".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

PARSER_VERSION: Final = "2026.11-1"

OTHER: Final = "other"

REASON_FINAL_ANSWER: Final = "final-answer"
REASON_EXPLICIT_RATING: Final = "explicit-rating"
REASON_CHOICE_STATEMENT: Final = "choice-statement"
REASON_BOLD_NUMBER: Final = "bold-number"
REASON_LONE_NUMBER: Final = "lone-number"
REASON_SCALE_LABEL: Final = "scale-label"
REASON_CONFLICTING: Final = "conflicting-ratings"
REASON_REFUSAL: Final = "refusal"
REASON_NO_RATING: Final = "no-rating"

CONFLICT_SEPARATOR: Final = " | "

_FINAL: Final = 4
_DECLARED: Final = 3
_STATED: Final = 2
_FORMATTED: Final = 1
# At these strengths the last statement wins; below them, disagreement is a conflict.
_LAST_WINS_FROM: Final = _DECLARED

_MIN_SCORE: Final = 1
_MAX_SCORE: Final = 5


@dataclass(frozen=True, slots=True)
class Decision:
    code: str  # "1".."5" or "other"
    matched_text: str | None  # the exact snippet (of the reply) that decided it
    reason: str  # one of the REASON_* constants
    turn: int | None = None  # 1-based index among the assistant replies; None when no reply decided

    @property
    def source(self) -> str | None:
        return None if self.turn is None else f"assistant-turn-{self.turn}"

    def metadata(self) -> dict[str, object]:
        return {
            "parserVersion": PARSER_VERSION,
            "matchedText": self.matched_text,
            "reason": self.reason,
            "source": self.source,
        }


# --- building blocks --------------------------------------------------------------------------

# Same-length replacements only, so a span in the normalized text is the same span in the reply.
_NORMALIZE: Final = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2044": "/",
        "\uff1a": ":",
    }
)

# Markdown emphasis, code ticks and quotes that may wrap the parts of a statement.
_DECORATION: Final = r"[\s*_`\"']*+"  # possessive: no backtracking over long runs
# "Rating (1-5): 4", "Score (out of 5) - 4"
_ASIDE: Final = r"(?:\s*\([^()\n]{0,80}\))?"
# What joins a keyword to its value: "Rating: 4", "rating of 4", "my answer is 3", "Rating - 4".
_LINK: Final = (
    rf"{_DECORATION}(?:[:=\-]|\bis\b|\bwas\b|\bwould\s+be\b|\bwill\s+be\b|\bof\b|\bremains\b)"
    rf"{_DECORATION}"
)
# "option 5", "a 4", "level 3"
_ARTICLE: Final = r"(?:(?:an?|option|choice|level|number|no\.)\s*)?"
_RATING_NOUN: Final = r"(?:rating|score|answer|choice|decision|verdict|selection|response|pick)"
_COUNTED_NOUN: Final = (
    r"(?:reasons?|options?|steps?|ways?|things?|factors?|items?|examples?|considerations?"
    r"|arguments?|questions?|people|persons|years?|months?|weeks?|days?|hours?|minutes?|times)"
)
_OUT_OF_FIVE: Final = r"(?:\s*/\s*5|\s+(?:out\s+)?of\s+(?:5|five))(?![\w/%]|[.,]\d)"
# The digit is a quantity, a decimal, a percentage, part of a longer number, a range, ...
_NOT_A_RATING_AFTER: Final = (
    r"(?![\w%/]|[.,:]\d|-\w|\s*%|\s*/|\s*per\s*cent\b|\s+(?:out\s+)?of\b"
    r"|\s*(?:-|to|or|and)\s*\d"
    rf"|\s+{_COUNTED_NOUN}\b)"
)
_NOT_A_RATING_BEFORE: Final = r"(?<![\w.,/$~+])"
# A rating value: 1-5 on its own, optionally "/5" or "out of 5".
_VALUE: Final = (
    rf"{_NOT_A_RATING_BEFORE}#?(?P<value>[1-5])(?:{_OUT_OF_FIVE}|{_NOT_A_RATING_AFTER})"
    r"(?:\*\*|__)?"
)

_FINAL_LEAD: Final = rf"(?:\bmy\s+)?\bfinal\s+{_RATING_NOUN}{_ASIDE}{_LINK}"
_DECLARED_LEAD: Final = rf"(?:\bmy\s+)?\b{_RATING_NOUN}{_ASIDE}{_LINK}"
_MODAL: Final = r"(?:'d|\s+would|'ll|\s+will|\s+shall|'m|\s+am)?"
_ADVERB: Final = (
    r"(?:(?:definitely|probably|therefore|thus|then|also|still|ultimately|now|personally"
    r"|instead|rather|confidently)\s+)?"
)
_RATE_LEAD: Final = (
    rf"\bI{_MODAL}\s+{_ADVERB}(?:rate|score|give|assign|put)\s+"
    r"(?:(?:it|this|that|them|(?:this|the|my|our)\s+\w+(?:\s+\w+)?)\s+)?(?:(?:as|at)\s+)?"
    rf"{_DECORATION}"
)
_CHOICE_VERB: Final = (
    r"(?:choose|chose|choosing|select|selected|selecting|pick|picked|picking|go\s+with"
    r"|going\s+with|went\s+with|opt\s+for|opting\s+for|opted\s+for|vote\s+for|voting\s+for"
    r"|settle\s+on|land\s+on)"
)
_CHOICE_LEAD: Final = rf"\bI{_MODAL}\s+{_ADVERB}{_CHOICE_VERB}\b{_DECORATION}:?{_DECORATION}"

_FLAGS: Final = re.IGNORECASE

_FINAL_RATING: Final = re.compile(rf"{_FINAL_LEAD}{_ARTICLE}{_VALUE}", _FLAGS)
_DECLARED_RATING: Final = re.compile(rf"{_DECLARED_LEAD}{_ARTICLE}{_VALUE}", _FLAGS)
_RATE_STATEMENT: Final = re.compile(rf"{_RATE_LEAD}{_ARTICLE}{_VALUE}", _FLAGS)
_CHOICE_STATEMENT: Final = re.compile(rf"{_CHOICE_LEAD}{_ARTICLE}{_VALUE}", _FLAGS)
# "4/5", "4 out of 5" — but not "3/5 of the people", "2 out of 5 experts".
_FRACTION: Final = re.compile(
    rf"{_NOT_A_RATING_BEFORE}(?P<value>[1-5])(?:\s*/\s*5|\s+out\s+of\s+(?:5|five))"
    r"(?![\w/%]|[.,]\d|\s+(?:of|people|respondents|participants|experts|users)\b)",
    _FLAGS,
)
# "**3**" / "__3__" — a bold number alone, not "**1.** First point".
_BOLD_NUMBER: Final = re.compile(
    r"(?<![\w*])(?:\*\*|__)\s*#?(?P<value>[1-5])\s*(?:\*\*|__)(?![\w*%])", _FLAGS
)
# A line holding nothing but the number (and decoration): "4", "**4**", "4.", "(4)".
_LONE_NUMBER: Final = re.compile(
    r"^[ \t>*_#`\"'(\[]*(?P<value>[1-5])[ \t*_`\"'.)\]!]*$", _FLAGS | re.MULTILINE
)

_NUMBER_RULES: Final[tuple[tuple[re.Pattern[str], int, str], ...]] = (
    (_FINAL_RATING, _FINAL, REASON_FINAL_ANSWER),
    (_DECLARED_RATING, _DECLARED, REASON_EXPLICIT_RATING),
    (_RATE_STATEMENT, _DECLARED, REASON_EXPLICIT_RATING),
    (_CHOICE_STATEMENT, _STATED, REASON_CHOICE_STATEMENT),
    (_FRACTION, _STATED, REASON_EXPLICIT_RATING),
    (_BOLD_NUMBER, _FORMATTED, REASON_BOLD_NUMBER),
    (_LONE_NUMBER, _FORMATTED, REASON_LONE_NUMBER),
)

# What precedes a scale label, tried strongest first (each anchored at the label's start).
_LABEL_LEADS: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (re.compile(rf"{_FINAL_LEAD}(?:option\s+)?$", _FLAGS), _FINAL),
    (re.compile(rf"{_DECLARED_LEAD}(?:option\s+)?$", _FLAGS), _DECLARED),
    (re.compile(rf"{_RATE_LEAD}(?:as\s+)?$", _FLAGS), _DECLARED),
    (re.compile(rf"{_CHOICE_LEAD}(?:option\s+)?$", _FLAGS), _STATED),
)
_LEAD_WINDOW: Final = 160
_LABEL_RANK: Final = len(_NUMBER_RULES)

# "A rating of 1 means ...", "5 = strongly support": the scale explained, not a choice.
_EXPLANATION_AFTER: Final = re.compile(
    r"[ \t*_)]*(?:=|->|(?:would\s+|will\s+)?(?:mean|means|indicate|indicates|represent"
    r"|represents|signify|signifies|correspond|corresponds|stand|stands)\b"
    r"|is\s+(?:for|reserved|used|given)\b)",
    _FLAGS,
)
# "If I chose 1, ..." — a hypothetical, not a choice.
_HYPOTHETICAL_BEFORE: Final = re.compile(
    r"\b(?:if|whether|unless|suppose|supposing|imagine|were)\s+$", _FLAGS
)
# "I don't strongly support it" — a label mentioned to reject it.
_NEGATION_BEFORE: Final = re.compile(
    r"\b(?:not|never|no|don't|doesn't|didn't|won't|wouldn't|cannot|can't|neither|nor)"
    r"\s+(?:\w+\s+){0,2}$",
    _FLAGS,
)
_NEGATION_WINDOW: Final = 60

_REFUSAL: Final = re.compile(
    r"\bI\s*(?:can(?:no|')t|can\s+not|won't|will\s+not|am\s+(?:not\s+able|unable)"
    r"|'m\s+(?:not\s+able|unable)|must\s+decline|have\s+to\s+decline|decline|refuse"
    r"|(?:do\s+not|don't)\s+feel\s+comfortable|am\s+not\s+comfortable|'m\s+not\s+comfortable"
    r"|(?:would|'d)\s+rather\s+not|(?:do\s+not|don't)\s+(?:think\s+I\s+should|have\s+personal))"
    r"\b[^.!?\n]{0,80}",
    _FLAGS,
)


# --- candidates ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    value: int
    strength: int
    reason: str
    rank: int  # the rule's position: on one span, the earlier rule names the reason


def _is_explanation(text: str, end: int) -> bool:
    return _EXPLANATION_AFTER.match(text, end) is not None


def _is_hypothetical(text: str, start: int) -> bool:
    return _HYPOTHETICAL_BEFORE.search(text, max(0, start - 20), start) is not None


def _number_candidates(text: str) -> list[_Candidate]:
    found: list[_Candidate] = []
    for rank, (pattern, strength, reason) in enumerate(_NUMBER_RULES):
        for match in pattern.finditer(text):
            if _is_explanation(text, match.end()) or _is_hypothetical(text, match.start()):
                continue
            found.append(
                _Candidate(match.start(), match.end(), int(match["value"]), strength, reason, rank)
            )
    return found


def _label_pattern(
    scale_labels: Mapping[int, str] | None,
) -> tuple[re.Pattern[str], dict[str, int]] | None:
    """One alternation of the labels, longest first, so "Strongly support" beats "Support"."""
    if not scale_labels:
        return None
    by_key: dict[str, int] = {}
    for score, label in scale_labels.items():
        words = label.split()
        if _MIN_SCORE <= score <= _MAX_SCORE and words:
            by_key.setdefault(" ".join(words).casefold(), score)
    if not by_key:
        return None
    alternatives = sorted(by_key, key=lambda key: (-len(key), key))
    body = "|".join(r"\s+".join(re.escape(word) for word in key.split()) for key in alternatives)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", _FLAGS), by_key


def _label_lead(text: str, start: int) -> tuple[int, int] | None:
    """The strength and start of the statement that leads into a label at `start`, if any."""
    window_start = max(0, start - _LEAD_WINDOW)
    for lead, strength in _LABEL_LEADS:
        match = lead.search(text, window_start, start)
        if match is not None and not _is_hypothetical(text, match.start()):
            return strength, match.start()
    return None


def _label_candidates(
    text: str, labels: tuple[re.Pattern[str], dict[str, int]] | None
) -> list[_Candidate]:
    if labels is None:
        return []
    pattern, by_key = labels
    led: list[_Candidate] = []
    alone: list[_Candidate] = []
    for match in pattern.finditer(text):
        score = by_key[" ".join(match[0].split()).casefold()]
        lead = _label_lead(text, match.start())
        if lead is not None:
            strength, start = lead
            led.append(
                _Candidate(start, match.end(), score, strength, REASON_SCALE_LABEL, _LABEL_RANK)
            )
        elif (
            _NEGATION_BEFORE.search(text, max(0, match.start() - _NEGATION_WINDOW), match.start())
            is None
        ):
            alone.append(
                _Candidate(
                    match.start(), match.end(), score, _FORMATTED, REASON_SCALE_LABEL, _LABEL_RANK
                )
            )
    if len({candidate.value for candidate in alone}) == 1:
        led.append(alone[-1])
    return led


# --- deciding -------------------------------------------------------------------------------------


def _decide(reply: str, candidates: list[_Candidate], turn: int) -> Decision:
    strongest = max(candidate.strength for candidate in candidates)
    deciding = sorted(
        (c for c in candidates if c.strength == strongest), key=lambda c: (c.start, -c.end, -c.rank)
    )
    values = {candidate.value for candidate in deciding}
    if len(values) > 1 and strongest < _LAST_WINS_FROM:
        snippets = list(dict.fromkeys(reply[c.start : c.end].strip() for c in deciding))
        return Decision(OTHER, CONFLICT_SEPARATOR.join(snippets), REASON_CONFLICTING, turn)
    last = deciding[-1]
    return Decision(str(last.value), reply[last.start : last.end].strip(), last.reason, turn)


def parse_decision(
    replies: Sequence[str], scale_labels: Mapping[int, str] | None = None
) -> Decision:
    """The rating stated in the assistant replies (in order); see the module docstring."""
    labels = _label_pattern(scale_labels)
    normalized = [reply.translate(_NORMALIZE) for reply in replies]
    for index in range(len(replies) - 1, -1, -1):
        text = normalized[index]
        candidates = _number_candidates(text) + _label_candidates(text, labels)
        if candidates:
            return _decide(replies[index], candidates, index + 1)
    for index in range(len(replies) - 1, -1, -1):
        refusal = _REFUSAL.search(normalized[index])
        if refusal is not None:
            snippet = replies[index][refusal.start() : refusal.end()].rstrip()
            return Decision(OTHER, snippet, REASON_REFUSAL, index + 1)
    return Decision(OTHER, None, REASON_NO_RATING)


def _message_text(content: object) -> str:
    """A message's text: a string, or the text parts of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def assistant_replies(content: Mapping[str, Any]) -> list[str]:
    """The assistant messages' texts, in order (turn N of the metadata is the N-th of these)."""
    messages = content.get("messages")
    if not isinstance(messages, list):
        return []
    return [
        _message_text(message.get("content"))
        for message in messages
        if isinstance(message, dict) and message.get("role") == "assistant"
    ]


def parse_transcript(
    content: Mapping[str, Any], scale_labels: Mapping[int, str] | None = None
) -> Decision:
    """`parse_decision` over the assistant messages of a transcript's `content["messages"]`."""
    return parse_decision(assistant_replies(content), scale_labels)
