"""Who is invited, who is left out, and the angle of each invitation."""

from __future__ import annotations

import datetime as dt

from services.personalizer.domain.gaps import FeatureAdoption
from services.personalizer.domain.model import (
    AdoptionLevel,
    Angle,
    Customer,
    Exclusion,
    ExclusionReason,
    LearningOutcome,
    SessionInfo,
    Stakeholder,
)
from services.personalizer.domain.selection import MIN_SCORE, Assessment, alternatives_for, assess

CUSTOMER = Customer(
    "cloudtech",
    "CloudTech",
    "csm@x.dev",
    "Alex",
    "Alex",
    frozenset({"dashboards", "report_scheduling", "sharing"}),
)
SESSION = SessionInfo(
    name="training-sessions/s1",
    title="Advanced Analytics",
    topic="Analytics",
    level="advanced",
    format="live_webinar",
    features=("dashboards", "report_scheduling", "sharing"),
    target_roles=("operations_leader", "data_analyst", "team_lead"),
    start_time=dt.datetime(2027, 2, 4, 19, tzinfo=dt.UTC),
    time_zone="America/New_York",
    duration=dt.timedelta(minutes=90),
    join_url="",
    registration_url="https://x.dev/r",
    presenter="",
    learning_outcomes=(
        LearningOutcome("dashboards", "Build dashboards"),
        LearningOutcome("report_scheduling", "Schedule reports"),
        LearningOutcome("sharing", "Share insights"),
    ),
)


def person(role: str, **kw: object) -> Stakeholder:
    base: dict[str, object] = dict(
        id=role,
        customer_id="cloudtech",
        display_name=f"{role} person",
        email=f"{role}@x.dev",
        role=role,
        title=role.replace("_", " ").title(),
        time_zone="UTC",
    )
    base.update(kw)
    return Stakeholder(**base)  # type: ignore[arg-type]


def adoption(**levels: AdoptionLevel) -> dict[str, FeatureAdoption]:
    return {
        f: FeatureAdoption(f, level, int(level) * 4, int(level) * 20, 10, 50, "")
        for f, level in levels.items()
    }


LOW = adoption(
    dashboards=AdoptionLevel.LOW, report_scheduling=AdoptionLevel.NONE, sharing=AdoptionLevel.LOW
)
POWER = adoption(
    dashboards=AdoptionLevel.POWER,
    report_scheduling=AdoptionLevel.POWER,
    sharing=AdoptionLevel.HIGH,
)
MEDIUM = adoption(
    dashboards=AdoptionLevel.MEDIUM,
    report_scheduling=AdoptionLevel.MEDIUM,
    sharing=AdoptionLevel.MEDIUM,
)


def chosen(outcome: Assessment | Exclusion) -> Assessment:
    assert isinstance(outcome, Assessment), outcome
    return outcome


def test_low_adoption_closes_the_gap_and_leads_with_the_first_gap() -> None:
    a = chosen(assess(person("operations_leader"), CUSTOMER, SESSION, LOW, False))
    assert a.angle is Angle.CLOSE_GAP
    assert a.focus_feature == "dashboards"
    assert a.talking_points == ["Build dashboards", "Schedule reports", "Share insights"]
    assert [r.factor for r in a.reasons] == ["role_fit", "need", "level_fit"]


def test_a_power_user_goes_deeper() -> None:
    a = chosen(assess(person("data_analyst"), CUSTOMER, SESSION, POWER, False))
    assert a.angle is Angle.GO_DEEPER


def test_a_lead_in_the_middle_leads_adoption_with_team_features_first() -> None:
    a = chosen(assess(person("team_lead"), CUSTOMER, SESSION, MEDIUM, False))
    assert a.angle is Angle.LEAD_ADOPTION
    assert a.talking_points[0] == "Share insights"


def test_the_gap_scores_above_the_power_user_for_the_same_role() -> None:
    gap = chosen(assess(person("data_analyst"), CUSTOMER, SESSION, LOW, False))
    power = chosen(assess(person("data_analyst"), CUSTOMER, SESSION, POWER, False))
    assert gap.score > power.score >= MIN_SCORE


def test_exclusions_say_why() -> None:
    cases = [
        (person("team_lead", opted_out=True), False, ExclusionReason.OPTED_OUT),
        (person("team_lead", email=None), False, ExclusionReason.NO_EMAIL),
        (person("team_lead"), True, ExclusionReason.ALREADY_INVITED),
        (person("it_admin"), False, ExclusionReason.LOW_FIT),
    ]
    for who, invited, reason in cases:
        outcome = assess(
            who, CUSTOMER, SESSION, POWER if reason is ExclusionReason.LOW_FIT else LOW, invited
        )
        assert isinstance(outcome, Exclusion) and outcome.reason is reason, (who, outcome)


def test_a_customer_without_the_sessions_features_is_not_entitled() -> None:
    other = Customer("c", "C", "csm@x.dev", "A", "A", frozenset({"api"}))
    outcome = assess(person("team_lead"), other, SESSION, {}, False)
    assert isinstance(outcome, Exclusion) and outcome.reason is ExclusionReason.NOT_ENTITLED


def test_training_and_a_recent_invitation_leave_out_unless_the_csm_adds_back() -> None:
    lead = person("team_lead")
    trained = assess(lead, CUSTOMER, SESSION, LOW, False, trained="Attended Analytics (Jan 3)")
    assert isinstance(trained, Exclusion) and trained.reason is ExclusionReason.ALREADY_TRAINED
    recent = assess(lead, CUSTOMER, SESSION, LOW, False, invited_recently="Dashboards 101")
    assert isinstance(recent, Exclusion) and recent.reason is ExclusionReason.INVITED_RECENTLY
    forced = chosen(assess(person("it_admin"), CUSTOMER, SESSION, POWER, False, force=True))
    assert "added_by_csm" in {r.factor for r in forced.reasons}
    never = assess(person("team_lead", opted_out=True), CUSTOMER, SESSION, LOW, False, force=True)
    assert isinstance(never, Exclusion) and never.reason is ExclusionReason.OPTED_OUT


def test_a_trigger_imposes_its_angle_and_its_gap() -> None:
    mixed = adoption(
        dashboards=AdoptionLevel.POWER,
        report_scheduling=AdoptionLevel.NONE,
        sharing=AdoptionLevel.MEDIUM,
    )
    a = chosen(
        assess(
            person("data_analyst"),
            CUSTOMER,
            SESSION,
            mixed,
            False,
            angle=Angle.CLOSE_GAP,
            require_gap_on="report_scheduling",
        )
    )
    assert (a.angle, a.focus_feature) == (Angle.CLOSE_GAP, "report_scheduling")
    no_gap = assess(
        person("data_analyst"), CUSTOMER, SESSION, POWER, False, require_gap_on="dashboards"
    )
    assert isinstance(no_gap, Exclusion) and no_gap.detail == "No gap on dashboards"


def test_power_users_hear_the_advanced_outcomes_first() -> None:
    advanced = SESSION.__class__(
        **{
            **SESSION.__dict__,
            "learning_outcomes": (
                LearningOutcome("dashboards", "Build dashboards", "intermediate"),
                LearningOutcome("dashboards", "Drill-downs", "advanced"),
            ),
        }
    )
    power = chosen(assess(person("data_analyst"), CUSTOMER, advanced, POWER, False))
    gap = chosen(assess(person("operations_leader"), CUSTOMER, advanced, LOW, False))
    assert power.talking_points[0] == "Drill-downs"
    assert gap.talking_points[0] == "Build dashboards"


def test_a_poor_fit_says_in_plain_words_what_about_the_person_makes_it_poor() -> None:
    outcome = assess(person("it_admin", title="IT Admin"), CUSTOMER, SESSION, POWER, False)
    assert isinstance(outcome, Exclusion) and outcome.reason is ExclusionReason.LOW_FIT
    assert outcome.detail == (
        "Poor fit: the session is not meant for their role (IT Admin); they already use "
        "dashboards, report scheduling and sharing as much as their peers or more."
    )
    assert outcome.score is not None and outcome.score < MIN_SCORE
    assert "Score" not in outcome.detail and str(MIN_SCORE) not in outcome.detail


def test_a_poor_fit_names_a_level_too_far_from_the_persons() -> None:
    beginner = SESSION.__class__(**{**SESSION.__dict__, "level": "beginner"})
    outcome = assess(person("it_admin", title="IT Admin"), CUSTOMER, beginner, POWER, False)
    assert isinstance(outcome, Exclusion)
    assert "a beginner session is too basic for a power user of these features" in outcome.detail
    none = adoption(
        dashboards=AdoptionLevel.NONE,
        report_scheduling=AdoptionLevel.NONE,
        sharing=AdoptionLevel.NONE,
    )
    outcome = assess(person("it_admin"), CUSTOMER, SESSION, none, False)
    assert isinstance(outcome, Exclusion)
    assert "an advanced session is too advanced for someone who does not use" in outcome.detail
    assert "already use" not in outcome.detail


def test_only_a_poor_fit_carries_a_score() -> None:
    opted_out = assess(person("team_lead", opted_out=True), CUSTOMER, SESSION, LOW, False)
    assert isinstance(opted_out, Exclusion) and opted_out.score is None


def other(title: str, level: str, course: str, days: int) -> SessionInfo:
    return SESSION.__class__(
        **{
            **SESSION.__dict__,
            "name": f"training-sessions/{title}",
            "title": title,
            "level": level,
            "course": course,
            "start_time": SESSION.start_time + dt.timedelta(days=days),
        }
    )


ADVANCED = SESSION.__class__(**{**SESSION.__dict__, "course": "courses/advanced"})
BEGINNER = other("Dashboards Fundamentals", "beginner", "courses/fundamentals", 7)
INTERMEDIATE = other("Dashboards in depth", "intermediate", "courses/depth", 8)
ADVANCED_LATER = other("Advanced Analytics, later", "advanced", "courses/advanced", 30)


def test_other_dates_of_the_same_course_come_first_for_everyone() -> None:
    for levels in (POWER, LOW):
        a = chosen(assess(person("data_analyst"), CUSTOMER, ADVANCED, levels, False))
        offered = alternatives_for(a, ADVANCED, [BEGINNER, ADVANCED_LATER, INTERMEDIATE])
        assert offered == (ADVANCED_LATER,)


def test_a_power_user_is_not_offered_a_beginner_course_as_another_date() -> None:
    power = chosen(assess(person("data_analyst"), CUSTOMER, ADVANCED, POWER, False))
    assert alternatives_for(power, ADVANCED, [BEGINNER, INTERMEDIATE]) == ()
    lead = chosen(assess(person("team_lead"), CUSTOMER, ADVANCED, MEDIUM, False))
    assert alternatives_for(lead, ADVANCED, [BEGINNER, INTERMEDIATE]) == (INTERMEDIATE,)
    gap = chosen(assess(person("operations_leader"), CUSTOMER, ADVANCED, LOW, False))
    assert alternatives_for(gap, ADVANCED, [BEGINNER, INTERMEDIATE]) == (BEGINNER, INTERMEDIATE)
