"""Which of a CSM's customers a typed name means: "CloudTech team", "cloud tech", "cloudtek".

Looser ways of matching are tried only for what the stricter ones leave open, and two customers
matching equally well are both returned: the caller picks, nothing here guesses.
"""

from __future__ import annotations

import difflib
import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Words a CSM adds or leaves out of a company's name without meaning another company.
FILLER_WORDS = frozenset(
    {"team", "the", "inc", "corp", "ltd", "co", "company", "group", "customer", "llc", "gmbh"}
)
MIN_CHARACTERS = 2
# Longer than any company name; it also bounds the spelling comparison's work.
MAX_CHARACTERS = 200
# difflib's ratio from which two spellings are taken for the same name ("cloudtek" and
# "cloudtech" score 0.82, "northwind" and "northwest" 0.67).
CLOSE_SPELLING = 0.8
# Spelling scores closer than this are equally good: neither customer is the clear one.
SPELLING_TIE = 0.05


class Why(enum.Enum):
    """How a query matched a customer, strictest first; the value is the text the CSM reads."""

    EXACT = "exact"
    IGNORING_CASE_AND_SPACES = "ignoring case and spaces"
    WITHOUT_FILLER_WORDS = "without filler words such as team or inc"
    PART_OF_THE_NAME = "part of the name"
    NAMED_AMONG_OTHER_WORDS = "named among other words"
    CLOSE_SPELLING = "close spelling"


_SCORES = {
    Why.EXACT: 1.0,
    Why.IGNORING_CASE_AND_SPACES: 0.98,
    Why.WITHOUT_FILLER_WORDS: 0.95,
    Why.PART_OF_THE_NAME: 0.9,
    Why.NAMED_AMONG_OTHER_WORDS: 0.85,
}

_ORDER = {why: i for i, why in enumerate(Why)}


@dataclass(frozen=True)
class NamedCustomer:
    """A customer as a name is matched against it: its id and the name people know it by."""

    id: str
    display_name: str


@dataclass(frozen=True)
class Candidate:
    customer: NamedCustomer
    why: Why
    score: float


@dataclass(frozen=True)
class Resolution:
    """Every customer the query may mean, best first; `match` is set only when one is best."""

    candidates: tuple[Candidate, ...]
    match: NamedCustomer | None

    @property
    def ambiguous(self) -> bool:
        return self.match is None and bool(self.candidates)


def words(text: str) -> list[str]:
    """Case folded, accents and punctuation gone: "Acme, Inc." -> ["acme", "inc"]."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(ch if ch.isalnum() else " " for ch in folded if not unicodedata.combining(ch))
    return kept.split()


def characters(text: str) -> int:
    """Letters and digits in the text: what a query must have enough of to name anything."""
    return sum(1 for ch in text if ch.isalnum())


def _essential(ws: list[str]) -> list[str]:
    return [w for w in ws if w not in FILLER_WORDS]


def _spelling(query: str, name_words: list[str]) -> float:
    """The best ratio between the query and the name or any run of its words, so that a typo
    in one word of a longer name ("northwnd" for "Northwind Logistics") still scores high."""
    best = 0.0
    for start in range(len(name_words)):
        for end in range(start + 1, len(name_words) + 1):
            matcher = difflib.SequenceMatcher(None, query, "".join(name_words[start:end]))
            # The cheap upper bounds first: most runs are far too long or too short to be close.
            if (
                matcher.real_quick_ratio() < CLOSE_SPELLING
                or matcher.quick_ratio() < CLOSE_SPELLING
            ):
                continue
            best = max(best, matcher.ratio())
    return best


def _contains(name: str, query_words: list[str]) -> bool:
    """Some run of the query's words spells the name: the CSM's sentence names the customer
    ("Invite CloudTech team to training", "invite cloud tech")."""
    for start in range(len(query_words)):
        run = ""
        for word in query_words[start:]:
            run += word
            if run == name:
                return True
            if len(run) >= len(name):
                break
    return False


def _why(query: str, customer: NamedCustomer) -> tuple[Why, float] | None:
    q_words = words(query)
    q_essential = _essential(q_words)
    best: tuple[Why, float] | None = None
    for name in (customer.display_name, customer.id):
        n_words = words(name)
        n_essential = _essential(n_words) or n_words
        if query.strip() == name:
            found: tuple[Why, float] | None = (Why.EXACT, _SCORES[Why.EXACT])
        elif "".join(q_words) == "".join(n_words):
            found = (Why.IGNORING_CASE_AND_SPACES, _SCORES[Why.IGNORING_CASE_AND_SPACES])
        elif not q_essential:
            found = None
        elif "".join(q_essential) == "".join(n_essential):
            found = (Why.WITHOUT_FILLER_WORDS, _SCORES[Why.WITHOUT_FILLER_WORDS])
        elif set(q_essential) <= set(n_essential) or (
            len("".join(q_essential)) >= 3 and "".join(n_essential).startswith("".join(q_essential))
        ):
            found = (Why.PART_OF_THE_NAME, _SCORES[Why.PART_OF_THE_NAME])
        elif _contains("".join(n_essential), q_words):
            found = (Why.NAMED_AMONG_OTHER_WORDS, _SCORES[Why.NAMED_AMONG_OTHER_WORDS])
        else:
            ratio = _spelling("".join(q_essential), n_essential)
            found = (Why.CLOSE_SPELLING, round(ratio, 3)) if ratio >= CLOSE_SPELLING else None
        if found is not None and (best is None or found[1] > best[1]):
            best = found
    return best


def resolve(query: str, customers: Iterable[NamedCustomer]) -> Resolution:
    """The customers the query may mean, best first, and the one it means if one is best."""
    found = [
        Candidate(c, why, score)
        for c in customers
        if (matched := _why(query, c)) is not None
        for why, score in (matched,)
    ]
    found.sort(
        key=lambda c: (_ORDER[c.why], -c.score, c.customer.display_name.casefold(), c.customer.id)
    )
    if not found:
        return Resolution((), None)
    top = found[0]
    margin = SPELLING_TIE if top.why is Why.CLOSE_SPELLING else 0.0
    equally_good = [c for c in found if c.why is top.why and top.score - c.score <= margin]
    match = top.customer if len(equally_good) == 1 else None
    return Resolution(tuple(found), match)
