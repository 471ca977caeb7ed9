"""Which angle to write an invitation from, learned from how people answered. No I/O here.

The fixed rules (`selection.choose_angle`) name one angle per person. Several angles fit most
people, though, and which of them brings a role to register is a question the registrations
answer. So the angle is chosen by Thompson sampling: each angle that fits the person gets a Beta
belief about the rate at which people of the person's role register when invited with it, one
draw is taken from each belief, and the angle with the highest draw is written.

What is known before a role's own registrations is the prior, not a flat guess:
- the angle's rate across every role and customer (what others have shown), itself drawn toward
  the rate of all invitations when the angle is new;
- the rules: the angle they name starts RULE_BONUS ahead.
The prior weighs as much as `prior_sends` invitations, so a role's own results take over as
they come in. Until a role has `min_role_sends` sent invitations the rules decide outright (and
the draft says so): a handful of answers is no reason to write differently. Beyond that, a share
`exploration` of the choices is uniform among the angles that fit, so that no angle is judged
for good on a few early answers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.personalizer.domain.model import AdoptionLevel, Angle, Stakeholder
from services.personalizer.domain.selection import LEAD_ROLES


@dataclass(frozen=True)
class Outcomes:
    """Invitations sent, and how many of those people registered."""

    sent: int = 0
    registered: int = 0

    def __add__(self, other: Outcomes) -> Outcomes:
        return Outcomes(self.sent + other.sent, self.registered + other.registered)

    @property
    def rate(self) -> float:
        return self.registered / self.sent if self.sent else 0.0


@dataclass(frozen=True)
class LearningPolicy:
    enabled: bool = True
    # The share of choices made uniformly among the angles that fit, once learning decides.
    exploration: float = 0.05
    # How many invitations the prior weighs as.
    prior_sends: float = 20.0
    # How far ahead of its rate the angle the rules name starts.
    rule_bonus: float = 0.02
    # A role's sent invitations before its results are used at all.
    min_role_sends: int = 30
    # The rate assumed for an angle nobody has sent yet, when nothing at all was sent.
    base_rate: float = 0.15


@dataclass(frozen=True)
class AngleChoice:
    angle: Angle
    # Why, in words a CSM reads on the draft.
    why: str


def fitting_angles(person: Stakeholder, level: AdoptionLevel) -> tuple[Angle, ...]:
    """The angles an invitation to this person can be written from: closing gaps while they
    have some, going deeper once they use the features, spreading adoption for a lead."""
    fitting = []
    if level <= AdoptionLevel.MEDIUM:
        fitting.append(Angle.CLOSE_GAP)
    if level >= AdoptionLevel.MEDIUM:
        fitting.append(Angle.GO_DEEPER)
    if person.role in LEAD_ROLES and level >= AdoptionLevel.LOW:
        fitting.append(Angle.LEAD_ADOPTION)
    return tuple(fitting)


def _people(role: str) -> str:
    """ "data_analyst" -> "data analysts", as a CSM says it."""
    words = role.replace("_", " ").strip() or "people in this role"
    return words if words.endswith("s") else f"{words}s"


def _angle_words(angle: Angle) -> str:
    return angle.value.replace("_", " ")


class AngleLearner:
    """Chooses angles from the outcomes of every (role, angle) sent so far."""

    def __init__(
        self,
        outcomes: Mapping[tuple[str, Angle], Outcomes],
        policy: LearningPolicy = LearningPolicy(),
        rng: random.Random | None = None,
    ) -> None:
        self._outcomes = outcomes
        self._policy = policy
        self._rng = rng or random.Random()
        by_angle: dict[Angle, Outcomes] = {}
        by_role: dict[str, Outcomes] = {}
        for (role, angle), o in outcomes.items():
            by_angle[angle] = by_angle.get(angle, Outcomes()) + o
            by_role[role] = by_role.get(role, Outcomes()) + o
        self._by_angle = by_angle
        self._by_role = by_role
        total = sum(by_angle.values(), Outcomes())
        self._overall = total.rate if total.sent else policy.base_rate

    def prior_rate(self, angle: Angle, rule: Angle) -> float:
        """What is believed of an angle before the role's own results: its rate across every
        role, drawn toward the overall rate as much as `prior_sends` invitations weigh, and
        the rules' angle a little ahead."""
        p = self._policy
        pooled = self._by_angle.get(angle, Outcomes())
        rate = (pooled.registered + p.prior_sends * self._overall) / (pooled.sent + p.prior_sends)
        if angle is rule:
            rate += p.rule_bonus
        return min(max(rate, 0.001), 0.999)

    def choose(self, role: str, fitting: Sequence[Angle], rule: Angle) -> AngleChoice:
        """The angle to write from, with why."""
        p = self._policy
        candidates = tuple(dict.fromkeys((*fitting, rule)))
        sent = self._by_role.get(role, Outcomes()).sent
        if not p.enabled or len(candidates) == 1:
            return AngleChoice(rule, "Angle chosen by the rules")
        if sent < p.min_role_sends:
            return AngleChoice(
                rule, f"Angle chosen by the rules: {sent} sent to {_people(role)} so far"
            )
        if self._rng.random() < p.exploration:
            angle = self._rng.choice(candidates)
            return AngleChoice(angle, "Angle tried to learn: " + self._compare(role, angle, rule))
        draws = {angle: self._draw(role, angle, rule) for angle in candidates}
        angle = max(candidates, key=lambda a: draws[a])
        return AngleChoice(angle, self._compare(role, angle, rule))

    def _draw(self, role: str, angle: Angle, rule: Angle) -> float:
        p = self._policy
        mine = self._outcomes.get((role, angle), Outcomes())
        prior = self.prior_rate(angle, rule)
        alpha = p.prior_sends * prior + mine.registered
        beta = p.prior_sends * (1 - prior) + (mine.sent - mine.registered)
        return self._rng.betavariate(alpha, beta)

    def _compare(self, role: str, angle: Angle, rule: Angle) -> str:
        """ "Data analysts registered 34% of the time with this angle, n=120, against 21% with
        close gap (n=80)"."""
        mine = self._outcomes.get((role, angle), Outcomes())
        people = _people(role).capitalize()
        said = (
            f"{people} registered {mine.rate:.0%} of the time with this angle, n={mine.sent}"
            if mine.sent
            else f"No {_people(role)} invited with this angle yet"
        )
        others = [
            (a, o)
            for (r, a), o in self._outcomes.items()
            if r == role and a is not angle and o.sent
        ]
        if not others:
            return said
        best, o = max(others, key=lambda pair: pair[1].rate)
        return f"{said}, against {o.rate:.0%} with {_angle_words(best)} (n={o.sent})"
