"""Who to invite to a session and why: scoring, exclusions, angle and talking points.

score = 0.40 role fit + 0.35 need + 0.25 level fit, each factor between 0 and 1 and kept as a
reason the CSM reads. docs/architecture.md explains the choice of factors and weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.personalizer.domain.gaps import FeatureAdoption
from services.personalizer.domain.model import (
    AdoptionLevel,
    Angle,
    Customer,
    Exclusion,
    ExclusionReason,
    LearningOutcome,
    SelectionReason,
    SessionInfo,
    Stakeholder,
)

ROLE_WEIGHT = 0.40
NEED_WEIGHT = 0.35
LEVEL_WEIGHT = 0.25
# Below this score a stakeholder is left out as a poor fit.
MIN_SCORE = 0.55
MAX_TALKING_POINTS = 3

# Roles that lead a team: a middling adoption makes them the ones to spread it.
LEAD_ROLES = frozenset({"team_lead", "manager", "operations_leader"})
# Features about working together: what a lead spreads to the team.
TEAM_FEATURES = frozenset({"sharing"})

# How much training on a feature helps at each adoption level.
_NEED = {
    AdoptionLevel.NONE: 1.0,
    AdoptionLevel.LOW: 1.0,
    AdoptionLevel.MEDIUM: 0.6,
    AdoptionLevel.HIGH: 0.3,
    AdoptionLevel.POWER: 0.2,
}

# How well a session level suits a person at each adoption level.
_LEVEL_FIT = {
    "beginner": {1: 1.0, 2: 1.0, 3: 0.6, 4: 0.2, 5: 0.1},
    "intermediate": {1: 0.4, 2: 0.6, 3: 1.0, 4: 0.8, 5: 0.4},
    "advanced": {1: 0.3, 2: 0.5, 3: 0.8, 4: 1.0, 5: 1.0},
}

_LEVEL_WORD = {
    AdoptionLevel.NONE: "no",
    AdoptionLevel.LOW: "low",
    AdoptionLevel.MEDIUM: "medium",
    AdoptionLevel.HIGH: "high",
    AdoptionLevel.POWER: "power-user",
}


@dataclass(frozen=True)
class Assessment:
    """A stakeholder chosen for the session, with everything the draft needs."""

    stakeholder: Stakeholder
    score: float
    reasons: list[SelectionReason]
    angle: Angle
    talking_points: list[str]
    focus_feature: str
    adoption: list[FeatureAdoption]
    # Why the angle, when it was chosen here (not imposed by a trigger).
    angle_reason: str = ""


# Chooses the angle of a person at an adoption level, given the one the rules name.
AngleChooser = Callable[[Stakeholder, AdoptionLevel, Angle], tuple[Angle, str]]


def _role_fit(person: Stakeholder, session: SessionInfo) -> SelectionReason:
    if not session.target_roles:
        return SelectionReason("role_fit", 1.0, "The session is open to every role")
    if person.role in session.target_roles:
        return SelectionReason("role_fit", 1.0, f"{person.title or person.role} is a target role")
    return SelectionReason("role_fit", 0.2, f"{person.title or person.role} is not a target role")


def _need(adoption: list[FeatureAdoption], customer: Customer) -> SelectionReason:
    need = sum(_NEED[a.level] for a in adoption) / len(adoption)
    parts = [
        f"{_LEVEL_WORD[a.level]} {customer.feature_name(a.feature).lower()} adoption "
        f"({a.active_days} active days, role median {a.role_median_active_days:g})"
        for a in adoption
    ]
    return SelectionReason("need", round(need, 3), "; ".join(parts).capitalize())


def overall_level(adoption: list[FeatureAdoption]) -> AdoptionLevel:
    """The person's level on the session's features: the best of them."""
    return max(a.level for a in adoption)


def _level_fit(level: AdoptionLevel, session: SessionInfo) -> SelectionReason:
    fit = _LEVEL_FIT.get(session.level, _LEVEL_FIT["intermediate"])[int(level)]
    return SelectionReason(
        "level_fit",
        fit,
        f"{'An' if session.level[0] in 'aeiou' else 'A'} {session.level} session for someone "
        f"at {_LEVEL_WORD[level]} adoption",
    )


_LEVEL_RANK = {"beginner": 1, "intermediate": 2, "advanced": 3}
_WHO = {
    AdoptionLevel.NONE: "someone who does not use these features yet",
    AdoptionLevel.LOW: "someone who uses these features little",
    AdoptionLevel.MEDIUM: "a regular user of these features",
    AdoptionLevel.HIGH: "a heavy user of these features",
    AdoptionLevel.POWER: "a power user of these features",
}
# Below these a factor is what makes the fit low, and the CSM is told so.
_WEAK_ROLE = 0.5
_WEAK_NEED = 0.6
_WEAK_LEVEL = 0.6


def suited_level(level: AdoptionLevel) -> str:
    """The session level that suits someone at this adoption level."""
    if level >= AdoptionLevel.HIGH:
        return "advanced"
    if level == AdoptionLevel.MEDIUM:
        return "intermediate"
    return "beginner"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def low_fit_detail(
    person: Stakeholder,
    customer: Customer,
    session: SessionInfo,
    adoption: list[FeatureAdoption],
    reasons: list[SelectionReason],
) -> str:
    """What about the person makes the session a poor fit, in the words a CSM uses: a role the
    session is not for, features they already use, a level too far above or below theirs."""
    role, need, level_fit = (r.weight for r in reasons)
    level = overall_level(adoption)
    parts: list[str] = []
    if role < _WEAK_ROLE:
        parts.append(f"the session is not meant for their role ({person.title or person.role})")
    if need <= _WEAK_NEED:
        used = [customer.feature_name(a.feature).lower() for a in adoption]
        strong = [
            customer.feature_name(a.feature).lower()
            for a in adoption
            if a.level >= AdoptionLevel.MEDIUM
        ]
        parts.append(f"they already use {_and(strong or used)} as much as their peers or more")
    if level_fit < _WEAK_LEVEL:
        too = (
            "basic"
            if _LEVEL_RANK.get(session.level, 2) < _LEVEL_RANK[suited_level(level)]
            else "advanced"
        )
        parts.append(
            f"{'an' if session.level[0] in 'aeiou' else 'a'} {session.level} session is too "
            f"{too} for {_WHO[level]}"
        )
    if not parts:
        # No one factor is poor: several middling ones add up to a poor fit.
        parts.append(
            "their role, their use of the features and the session's level each fit only partly"
        )
    sentence = "; ".join(parts)
    return "Poor fit: " + sentence + "."


def alternatives_for(
    assessment: Assessment, session: SessionInfo, alternatives: Sequence[SessionInfo]
) -> tuple[SessionInfo, ...]:
    """The other dates offered to someone who cannot come: the same course on another date
    when there is one; else only sessions at the level that suits the person or above, so that
    a power user is never offered a beginner course as "another date"."""
    same_course = [a for a in alternatives if session.course and a.course == session.course]
    if same_course:
        return tuple(same_course)
    floor = _LEVEL_RANK[suited_level(overall_level(assessment.adoption))]
    return tuple(a for a in alternatives if _LEVEL_RANK.get(a.level, 2) >= floor)


def choose_angle(person: Stakeholder, level: AdoptionLevel) -> Angle:
    """Power and high users go deeper, leads in the middle spread adoption, others close gaps."""
    if level >= AdoptionLevel.HIGH:
        return Angle.GO_DEEPER
    if level == AdoptionLevel.MEDIUM and person.role in LEAD_ROLES:
        return Angle.LEAD_ADOPTION
    return Angle.CLOSE_GAP


def _focus_feature(adoption: list[FeatureAdoption], angle: Angle) -> str:
    """The feature the invitation leads with, in the session's own order of features:
    the first gap when closing gaps, the first strongest feature otherwise."""
    if angle is Angle.GO_DEEPER:
        top = max(a.level for a in adoption)
        return next(a.feature for a in adoption if a.level == top)
    gaps = [a for a in adoption if a.gap]
    if gaps:
        return gaps[0].feature
    return min(adoption, key=lambda a: a.level).feature


def talking_points(
    session: SessionInfo, adoption: list[FeatureAdoption], angle: Angle
) -> list[str]:
    """The session's outcomes, those that matter most to this person first, then catalog order:
    gap features when closing gaps, strongest features when going deeper, team features for
    leads."""
    by_feature = {a.feature: a for a in adoption}

    def matters(outcome: LearningOutcome) -> bool:
        a = by_feature.get(outcome.feature)
        if angle is Angle.GO_DEEPER:
            return a is not None and a.level >= AdoptionLevel.HIGH
        if angle is Angle.LEAD_ADOPTION:
            return outcome.feature in TEAM_FEATURES
        return a is not None and a.gap

    def fits(outcome: LearningOutcome) -> bool:
        """Advanced parts for those going deeper, the rest for everyone else."""
        advanced = (outcome.level or session.level) == "advanced"
        return advanced if angle is Angle.GO_DEEPER else not advanced

    ranked = sorted(
        enumerate(session.learning_outcomes),
        key=lambda item: (not matters(item[1]), not fits(item[1]), item[0]),
    )
    return [outcome.text for _, outcome in ranked][:MAX_TALKING_POINTS]


def assess(
    person: Stakeholder,
    customer: Customer,
    session: SessionInfo,
    adoption_by_feature: dict[str, FeatureAdoption],
    already_invited: bool,
    trained: str = "",
    invited_recently: str = "",
    angle: Angle | None = None,
    require_gap_on: str | None = None,
    force: bool = False,
    suppressed: str = "",
    choose: AngleChooser | None = None,
) -> Assessment | Exclusion:
    """Choose or leave out one stakeholder for the session, always with the reason.

    `trained` and `invited_recently` describe the training or invitation that rules the person
    out; `angle` imposes an angle (triggers); `require_gap_on` keeps only people with a gap on
    that feature; `force` is the CSM adding someone back: only what may never be overridden
    (opted out, no email, invited to this very session) still leaves them out; `choose` picks
    the angle from the ones the rules allow (learning), else the rules decide.
    """
    if person.opted_out:
        return Exclusion(person, ExclusionReason.OPTED_OUT, "Opted out of training emails")
    if not person.email:
        return Exclusion(person, ExclusionReason.NO_EMAIL, "No email address on record")
    if suppressed:
        return Exclusion(person, ExclusionReason.SUPPRESSED, f"Address suppressed: {suppressed}")
    if already_invited:
        return Exclusion(person, ExclusionReason.ALREADY_INVITED, "Already invited to this session")
    if trained and not force:
        return Exclusion(person, ExclusionReason.ALREADY_TRAINED, trained)
    if invited_recently and not force:
        return Exclusion(
            person, ExclusionReason.INVITED_RECENTLY, f"Invited recently: {invited_recently}"
        )
    covered = [f for f in session.features if f in customer.entitlements]
    if session.features and not covered and not force:
        return Exclusion(
            person,
            ExclusionReason.NOT_ENTITLED,
            f"{customer.display_name} is not entitled to any feature the session covers",
        )
    features = covered if covered else list(session.features)
    adoption = [adoption_by_feature[f] for f in features if f in adoption_by_feature]
    if not adoption:
        return Exclusion(
            person, ExclusionReason.LOW_FIT, "No usage data for the session's features"
        )
    if require_gap_on is not None and not force:
        target = adoption_by_feature.get(require_gap_on)
        if target is None or not target.gap:
            return Exclusion(
                person,
                ExclusionReason.LOW_FIT,
                f"No gap on {customer.feature_name(require_gap_on).lower()}",
            )
    level = overall_level(adoption)
    reasons = [_role_fit(person, session), _need(adoption, customer), _level_fit(level, session)]
    role, need, level_fit = (r.weight for r in reasons)
    score = round(ROLE_WEIGHT * role + NEED_WEIGHT * need + LEVEL_WEIGHT * level_fit, 3)
    if score < MIN_SCORE and not force:
        return Exclusion(
            person,
            ExclusionReason.LOW_FIT,
            low_fit_detail(person, customer, session, adoption, reasons),
            score,
        )
    if force:
        reasons.append(SelectionReason("added_by_csm", 1.0, "Added back by the CSM"))
    angle_reason = ""
    if angle is not None:
        chosen = angle
    elif choose is not None:
        chosen, angle_reason = choose(person, level, choose_angle(person, level))
    else:
        chosen = choose_angle(person, level)
    if require_gap_on is not None and any(a.feature == require_gap_on for a in adoption):
        focus = require_gap_on
    else:
        focus = _focus_feature(adoption, chosen)
    return Assessment(
        stakeholder=person,
        score=score,
        reasons=reasons,
        angle=chosen,
        talking_points=talking_points(session, adoption, chosen),
        focus_feature=focus,
        adoption=adoption,
        angle_reason=angle_reason,
    )
