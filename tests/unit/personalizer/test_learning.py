"""Learning which angle brings each role: the rules while data is thin, then Thompson sampling
with what every role and customer has shown as the prior, a floor of exploration, and a reason a
CSM can read on each draft."""

from __future__ import annotations

import collections
import random

from services.personalizer.domain.learning import (
    AngleLearner,
    LearningPolicy,
    Outcomes,
    fitting_angles,
)
from services.personalizer.domain.model import AdoptionLevel, Angle
from services.personalizer.service_layer import drafting
from tests.unit.personalizer.world import ANA, BEN, CSM, DASHBOARDS, world

CLOSE, DEEPER, LEAD = Angle.CLOSE_GAP, Angle.GO_DEEPER, Angle.LEAD_ADOPTION


def test_the_angles_that_fit_a_person() -> None:
    assert fitting_angles(ANA, AdoptionLevel.LOW) == (CLOSE,)
    assert fitting_angles(ANA, AdoptionLevel.MEDIUM) == (CLOSE, DEEPER)
    assert fitting_angles(ANA, AdoptionLevel.POWER) == (DEEPER,)
    assert fitting_angles(BEN, AdoptionLevel.MEDIUM) == (CLOSE, DEEPER, LEAD)


def test_while_a_role_has_little_data_the_rules_decide_and_say_so() -> None:
    learner = AngleLearner({("data_analyst", DEEPER): Outcomes(12, 9)}, rng=random.Random(1))
    choice = learner.choose("data_analyst", (CLOSE, DEEPER), CLOSE)
    assert choice.angle is CLOSE
    assert choice.why == "Angle chosen by the rules: 12 sent to data analysts so far"
    off = AngleLearner({("data_analyst", DEEPER): Outcomes(500, 400)}, LearningPolicy(False))
    assert off.choose("data_analyst", (CLOSE, DEEPER), CLOSE).angle is CLOSE


def test_what_a_role_has_shown_wins_and_the_draft_says_why() -> None:
    outcomes = {
        ("team_lead", CLOSE): Outcomes(120, 41),  # 34%
        ("team_lead", DEEPER): Outcomes(80, 17),  # 21%
    }
    learner = AngleLearner(outcomes, LearningPolicy(exploration=0), random.Random(7))
    picks = collections.Counter(
        learner.choose("team_lead", (CLOSE, DEEPER), DEEPER).angle for _ in range(400)
    )
    assert picks[CLOSE] >= 380, picks  # against the rules' choice, on evidence
    why = learner.choose("team_lead", (CLOSE, DEEPER), DEEPER).why
    assert why == (
        "Team leads registered 34% of the time with this angle, n=120, against 21% with go"
        " deeper (n=80)"
    )


def test_an_angle_new_to_a_role_starts_from_what_other_roles_showed() -> None:
    # Analysts never got lead_adoption... leads did, and it did well for them: the prior of a
    # role's untried angle is the angle's rate across roles, not a flat guess.
    outcomes = {
        ("team_lead", LEAD): Outcomes(400, 120),  # 30%
        ("team_lead", CLOSE): Outcomes(400, 40),  # 10%
        ("manager", CLOSE): Outcomes(60, 6),
    }
    learner = AngleLearner(outcomes, LearningPolicy(exploration=0), random.Random(3))
    assert learner.prior_rate(LEAD, rule=CLOSE) > learner.prior_rate(CLOSE, rule=CLOSE)
    picks = collections.Counter(
        learner.choose("manager", (CLOSE, LEAD), CLOSE).angle for _ in range(400)
    )
    assert picks[LEAD] > picks[CLOSE], picks


def test_a_floor_of_exploration_tries_every_angle_that_fits() -> None:
    outcomes = {
        ("team_lead", CLOSE): Outcomes(2000, 700),
        ("team_lead", DEEPER): Outcomes(50, 2),
        ("team_lead", LEAD): Outcomes(50, 3),
    }
    learner = AngleLearner(outcomes, LearningPolicy(exploration=0.1), random.Random(11))
    choices = [learner.choose("team_lead", (CLOSE, DEEPER, LEAD), CLOSE) for _ in range(2000)]
    picks = collections.Counter(c.angle for c in choices)
    # About a tenth explore, a third of those on each angle: roughly 67 each for the others,
    # which the evidence alone would never choose.
    assert 30 <= picks[LEAD] <= 110 and 30 <= picks[DEEPER] <= 110, picks
    assert any(c.why.startswith("Angle tried to learn: ") for c in choices)
    without = AngleLearner(outcomes, LearningPolicy(exploration=0), random.Random(11))
    assert {
        without.choose("team_lead", (CLOSE, DEEPER, LEAD), CLOSE).angle for _ in range(500)
    } == {CLOSE}


async def test_drafts_carry_the_reason_for_their_angle() -> None:
    p = world()
    batch = await drafting.draft_invitations(
        p.deps, "customers/cloudtech", DASHBOARDS.name, "", "", CSM
    )
    assert batch.drafts
    assert all(d.angle_reason.startswith("Angle chosen by the rules") for d in batch.drafts)
