"""Funnel services against the database: saving the funnel (all-or-nothing, stages keep their identity),
loss reasons per stage, attendees, mini-teams and swaps, ideas, the sensitivity report, deals (CSV
import) and deal feedback with its summary.

Meetings are made directly (``make_meeting`` in tests/factories/reviews.py: an Activity of kind
review_meeting plus Participation rows), not through the meetings services.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from program.activities.models import Activity, Participation
from program.debriefs.defaults import ensure_codebook
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.reviews.funnel import inputs, maths, playback, sensitivity, services
from program.reviews.funnel import teams as mini_teams
from program.reviews.funnel.models import (
    DealFeedback,
    DealFeedbackCode,
    FunnelIdea,
    FunnelSnapshot,
    FunnelTeamMember,
    FunnelTeamStage,
    PlaybackDeal,
)
from tests.factories.reviews import DEALS_CSV, code, make_meeting, save, stage_id


def mixed_people(make, sales: int, marketing: int, others: int = 0):
    return (
        [make.user(department="Sales") for _ in range(sales)]
        + [make.marketer() for _ in range(marketing)]
        + [make.user(department="People") for _ in range(others)]
    )


# --- the funnel --------------------------------------------------------------------------------


def test_saved_funnel_shows_conversions_losses_and_overall(make, now):
    meeting = make_meeting(make, now)
    save(meeting, meeting.host)
    view = services.funnel_view(services.snapshot_for(meeting.id))
    assert [(s.name, s.entering, s.lost) for s in view.stages] == [
        ("Lead", 1000, 600),
        ("MQL", 400, 300),
        ("SQL", 100, 60),
        ("Opportunity", 40, 30),
        ("Won", 10, None),
    ]
    assert [maths.percent(s.conversion) for s in view.stages] == ["40.0 %", "25.0 %", "40.0 %", "25.0 %", "—"]
    assert [maths.percent(s.lost_share) for s in view.stages] == ["60.0 %", "75.0 %", "60.0 %", "75.0 %", "—"]
    assert maths.percent(view.overall) == "1.0 %"
    assert view.avg_value_cents == 500_000 and view.period_label == "Q3 2026"


def test_a_stage_nobody_entered_is_shown_unknown(make, now):
    meeting = make_meeting(make, now)
    save(meeting, meeting.host, [("Lead", 10), ("MQL", 0), ("Won", 0)])
    mql = services.funnel_view(services.snapshot_for(meeting.id)).stages[1]
    assert mql.unknown and mql.conversion is None and mql.lost == 0


def test_saving_again_keeps_stages_by_name_with_their_ideas_and_reasons(make, now):
    ensure_codebook(now)
    a, b = make.user(department="Sales"), make.marketer()
    meeting = make_meeting(make, now, people=[a, b])
    save(meeting, meeting.host)
    mql = stage_id(meeting, "MQL")
    services.set_stage_reason(meeting, meeting.host, mql, code("Wrong persona", "lead_quality").id, 120, now)
    services.add_idea(
        meeting,
        meeting.host,
        team_id=None,
        stage_id=mql,
        title="Faster follow-up",
        lift="3",
        confidence=50,
        effort="S",
        now=now,
    )
    save(meeting, meeting.host, [("Lead", 2000), ("mql", 500), ("Won", 20)])
    view = services.funnel_view(services.snapshot_for(meeting.id))
    assert [(s.name, s.entering) for s in view.stages] == [("Lead", 2000), ("mql", 500), ("Won", 20)]
    assert view.stages[1].id == mql  # same stage, renamed in case only
    assert [r.label for r in view.stages[1].reasons] == ["Wrong persona"]
    assert db.session.scalar(select(FunnelIdea.stage_id)) == mql


def test_a_stage_with_ideas_cannot_be_removed_or_become_last(make, now):
    meeting = make_meeting(make, now)
    save(meeting, meeting.host)
    sql = stage_id(meeting, "SQL")
    services.add_idea(
        meeting,
        meeting.host,
        team_id=None,
        stage_id=sql,
        title="Better scoring",
        lift="2",
        confidence=70,
        effort="M",
        now=now,
    )
    with pytest.raises(inputs.InputProblems, match="“SQL” has 1 idea"):
        save(meeting, meeting.host, [("Lead", 1000), ("MQL", 400), ("Won", 10)])
    with pytest.raises(inputs.InputProblems, match="can't be the last stage"):
        save(meeting, meeting.host, [("Lead", 1000), ("MQL", 400), ("SQL", 100)])
    db.session.rollback()


def test_only_the_facilitator_saves_and_not_on_a_cancelled_meeting(make, now):
    attendee = make.marketer()
    meeting = make_meeting(make, now, people=[attendee])
    with pytest.raises(NotAllowed):
        save(meeting, attendee)
    manager = make.user(role="leader", department="Marketing")
    meeting.host.manager = manager
    admin = make.user(role="admin", department=None)
    save(meeting, manager)
    save(meeting, admin)
    meeting.status = "cancelled"
    with pytest.raises(NotAllowed, match="cancelled"):
        save(meeting, meeting.host)


def test_stage_loss_reasons_are_checked(make, now):
    ensure_codebook(now)
    meeting = make_meeting(make, now)
    save(meeting, meeting.host)
    lead, won = stage_id(meeting, "Lead"), stage_id(meeting, "Won")
    persona = code("Wrong persona", "lead_quality").id
    services.set_stage_reason(meeting, meeting.host, lead, persona, 200, now)
    services.set_stage_reason(meeting, meeting.host, lead, persona, 250, now)  # replaces the count
    services.set_stage_reason(meeting, meeting.host, lead, code("Price", "loss_reason").id, 50, now)
    reasons = services.funnel_view(services.snapshot_for(meeting.id)).stages[0].reasons
    assert [(r.label, r.count) for r in reasons] == [("Wrong persona", 250), ("Price", 50)]
    with pytest.raises(ValidationFailed, match="Choose a loss reason or a lead-quality code"):
        services.set_stage_reason(meeting, meeting.host, lead, code("Saves time", "why_buy").id, 5, now)
    with pytest.raises(ValidationFailed, match="Only 600 prospect"):
        services.set_stage_reason(meeting, meeting.host, lead, persona, 601, now)
    with pytest.raises(ValidationFailed, match="last stage"):
        services.set_stage_reason(meeting, meeting.host, won, persona, 1, now)
    retired = code("No budget", "lead_quality")
    retired.retired = True
    with pytest.raises(ValidationFailed, match="retired"):
        services.set_stage_reason(meeting, meeting.host, lead, retired.id, 1, now)
    # Lowering a stage's losses below a recorded reason is refused, naming both.
    with pytest.raises(inputs.InputProblems, match="would lose 100 prospect.*“Wrong persona” counts 250"):
        save(meeting, meeting.host, [("Lead", 1000), ("MQL", 900), ("SQL", 100), ("Opportunity", 40), ("Won", 10)])


# --- attendees and mini-teams ----------------------------------------------------------------------


def test_attendees_are_the_attended_once_anyone_is(make, now):
    a, b, c, d, e = mixed_people(make, 2, 3)
    meeting = make_meeting(
        make,
        now,
        people=[
            (a, "attended", ""),
            (b, "booked", "yes"),
            (c, "attended", "no"),
            (d, "no_show", ""),
            (e, "cancelled_by_user", ""),
        ],
    )
    assert [u.id for u in mini_teams.meeting_attendees(meeting.id)] == [a.id, c.id]


def test_before_attendance_the_booked_and_invited_who_did_not_say_no(make, now):
    a, b, c, d, e = mixed_people(make, 2, 3)
    meeting = make_meeting(
        make,
        now,
        starts_in=timedelta(days=2),
        people=[
            (a, "booked", "yes"),
            (b, "invited", ""),
            (c, "invited", "no"),
            (d, "declined", "no"),
            (e, "invited", "maybe"),
        ],
    )
    assert [u.id for u in mini_teams.meeting_attendees(meeting.id)] == [a.id, b.id, e.id]


def _team_functions(meeting) -> list[Counter]:
    return [Counter(m.function for m in t.members) for t in mini_teams.teams_for(meeting.id)]


def test_forming_teams_from_an_odd_mixed_meeting(make, now):
    people = mixed_people(make, 3, 4)
    meeting = make_meeting(make, now, people=people)
    save(meeting, meeting.host)
    mini_teams.form_teams(meeting, meeting.host, now, seed="demo")
    teams = mini_teams.teams_for(meeting.id)
    assert sorted(len(t.members) for t in teams) == [2, 2, 3]
    assert all(t.mixed for t in teams)
    assert sorted(m.user_id for t in teams for m in t.members) == sorted(p.id for p in people)
    # Four transition stages over three teams: each stage once, teams get 2, 1, 1.
    assert sorted(len(t.stages) for t in teams) == [1, 1, 2]
    assert sorted(name for t in teams for _, name in t.stages) == ["Lead", "MQL", "Opportunity", "SQL"]
    assert services.snapshot_for(meeting.id).team_seed == "demo"


def test_one_sided_attendance_makes_same_function_pairs_and_a_three(make, now):
    meeting = make_meeting(make, now, people=mixed_people(make, 5, 0))
    save(meeting, meeting.host)
    mini_teams.form_teams(meeting, meeting.host, now, seed="s")
    assert sorted(sum(c.values()) for c in _team_functions(meeting)) == [2, 3]
    assert all(set(c) == {"sales"} for c in _team_functions(meeting))


def test_the_same_seed_draws_the_same_teams_again(make, now):
    meeting = make_meeting(make, now, people=mixed_people(make, 4, 4, 1))
    save(meeting, meeting.host)
    mini_teams.form_teams(meeting, meeting.host, now, seed="repeat")
    first = [(tuple(m.user_id for m in t.members), t.stages) for t in mini_teams.teams_for(meeting.id)]
    mini_teams.form_teams(meeting, meeting.host, now, seed="other")
    mini_teams.form_teams(meeting, meeting.host, now, seed="repeat")
    assert [(tuple(m.user_id for m in t.members), t.stages) for t in mini_teams.teams_for(meeting.id)] == first
    assert db.session.scalar(select(func.count(FunnelTeamMember.id))) == 9


def test_forming_teams_needs_a_funnel_two_attendees_and_no_ideas_yet(make, now):
    lone = make.marketer()
    meeting = make_meeting(make, now, people=[lone])
    with pytest.raises(ValidationFailed, match="Enter the funnel first"):
        mini_teams.form_teams(meeting, meeting.host, now)
    save(meeting, meeting.host)
    with pytest.raises(ValidationFailed, match="at least two attendees"):
        mini_teams.form_teams(meeting, meeting.host, now)
    meeting2 = make_meeting(make, now, people=mixed_people(make, 1, 1))
    save(meeting2, meeting2.host)
    mini_teams.form_teams(meeting2, meeting2.host, now)
    team = mini_teams.teams_for(meeting2.id)[0]
    services.add_idea(
        meeting2,
        meeting2.host,
        team_id=team.id,
        stage_id=team.stages[0][0],
        title="x",
        lift="1",
        confidence=10,
        effort="S",
        now=now,
    )
    with pytest.raises(ValidationFailed, match="swap people instead"):
        mini_teams.form_teams(meeting2, meeting2.host, now)
    with pytest.raises(NotAllowed):
        mini_teams.form_teams(meeting2, make.user(role="hr", department="People"), now)


def test_swapping_two_people_keeps_team_sizes(make, now):
    meeting = make_meeting(make, now, people=mixed_people(make, 3, 2))
    save(meeting, meeting.host)
    mini_teams.form_teams(meeting, meeting.host, now, seed="swap")
    before = mini_teams.teams_for(meeting.id)
    a, b = before[0].members[0].user_id, before[1].members[0].user_id
    mini_teams.swap_people(meeting, meeting.host, a, b)
    after = {t.number: [m.user_id for m in t.members] for t in mini_teams.teams_for(meeting.id)}
    assert b in after[before[0].number] and a in after[before[1].number]
    assert sorted(len(v) for v in after.values()) == sorted(len(t.members) for t in before)
    with pytest.raises(ValidationFailed, match="same team"):
        mini_teams.swap_people(meeting, meeting.host, a, after[before[1].number][1])
    with pytest.raises(ValidationFailed, match="two different"):
        mini_teams.swap_people(meeting, meeting.host, a, a)


def test_an_attendee_without_a_team_can_take_a_place(make, now):
    people = mixed_people(make, 1, 1)
    meeting = make_meeting(make, now, people=people)
    save(meeting, meeting.host)
    mini_teams.form_teams(meeting, meeting.host, now)
    late = make.marketer()
    db.session.add(
        Participation(activity_id=meeting.id, user_id=late.id, state="attended", state_changed_at=now, created_at=now)
    )
    db.session.flush()
    teams = mini_teams.teams_for(meeting.id)
    assert [m.user_id for m in mini_teams.unassigned_attendees(meeting.id, teams)] == [late.id]
    mini_teams.swap_people(meeting, meeting.host, late.id, people[1].id)  # either order works
    members = [m.user_id for m in mini_teams.teams_for(meeting.id)[0].members]
    assert sorted(members) == sorted([people[0].id, late.id])
    stranger = make.user()
    with pytest.raises(ValidationFailed, match="not an attendee"):
        mini_teams.swap_people(meeting, meeting.host, people[0].id, stranger.id)


# --- ideas -----------------------------------------------------------------------------------------


def _two_teams(make, now):
    meeting = make_meeting(make, now, people=mixed_people(make, 2, 2))
    save(meeting, meeting.host)
    mini_teams.form_teams(meeting, meeting.host, now, seed="ideas")
    return meeting, mini_teams.teams_for(meeting.id)


def test_members_add_ideas_for_their_own_team_and_stages(make, now):
    meeting, (t1, t2) = _two_teams(make, now)
    member = db.session.get(type(meeting.host), t1.members[0].user_id)
    own_stage = t1.stages[0][0]
    idea = services.add_idea(
        meeting,
        member,
        team_id=None,
        stage_id=own_stage,
        title="  Speed-to-lead SLA ",
        lift="2.5",
        confidence=80,
        effort="S",
        now=now,
    )
    assert (idea.team_id, idea.title, idea.lift_centi_pp) == (t1.id, "Speed-to-lead SLA", 250)
    with pytest.raises(ValidationFailed, match="not one of Team"):
        services.add_idea(
            meeting,
            member,
            team_id=t1.id,
            stage_id=t2.stages[0][0],
            title="x",
            lift="1",
            confidence=50,
            effort="S",
            now=now,
        )
    with pytest.raises(NotAllowed):
        services.add_idea(
            meeting,
            member,
            team_id=t2.id,
            stage_id=t2.stages[0][0],
            title="x",
            lift="1",
            confidence=50,
            effort="S",
            now=now,
        )
    outsider = make.marketer()
    with pytest.raises(NotAllowed):
        services.add_idea(
            meeting, outsider, team_id=None, stage_id=own_stage, title="x", lift="1", confidence=50, effort="S", now=now
        )
    # The facilitator may add for any team and stage.
    services.add_idea(
        meeting,
        meeting.host,
        team_id=t2.id,
        stage_id=own_stage,
        title="Host idea",
        lift="1",
        confidence=50,
        effort="L",
        now=now,
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"title": "  "}, "title", "Say what the idea is"),
        ({"lift": "0"}, "lift", "more than 0"),
        ({"lift": "101"}, "lift", "more than 100"),
        ({"confidence": 101}, "confidence", "between 0 and 100"),
        ({"confidence": None}, "confidence", "between 0 and 100"),
        ({"effort": "XL"}, "effort", "S, M or L"),
        ({"stage": "Won"}, "stage_id", "last stage"),
    ],
)
def test_idea_input_is_checked(make, now, changes, field, words):
    meeting = make_meeting(make, now)
    save(meeting, meeting.host)
    values = {"title": "Idea", "lift": "2", "confidence": 50, "effort": "M"} | {
        k: v for k, v in changes.items() if k != "stage"
    }
    with pytest.raises(ValidationFailed, match=words) as caught:
        services.add_idea(
            meeting,
            meeting.host,
            team_id=None,
            stage_id=stage_id(meeting, changes.get("stage", "MQL")),
            now=now,
            **values,
        )
    assert caught.value.field == field


def test_deleting_ideas(make, now):
    meeting, (t1, t2) = _two_teams(make, now)
    author = db.session.get(type(meeting.host), t1.members[0].user_id)
    teammate = db.session.get(type(meeting.host), t1.members[1].user_id)
    other = db.session.get(type(meeting.host), t2.members[0].user_id)
    ids = [
        services.add_idea(
            meeting,
            author,
            team_id=None,
            stage_id=t1.stages[0][0],
            title=f"i{n}",
            lift="1",
            confidence=50,
            effort="S",
            now=now,
        ).id
        for n in range(3)
    ]
    with pytest.raises(NotAllowed):
        services.delete_idea(meeting, other, ids[0])
    services.delete_idea(meeting, teammate, ids[0])
    services.delete_idea(meeting, author, ids[1])
    services.delete_idea(meeting, meeting.host, ids[2])
    assert db.session.scalar(select(func.count(FunnelIdea.id))) == 0


# --- sensitivity from the database --------------------------------------------------------------


def test_sensitivity_report_from_saved_funnel_and_ideas(make, now):
    meeting = make_meeting(make, now)
    save(meeting, meeting.host)
    for stage, lift, confidence, effort, title in (
        ("MQL", "5", 60, "M", "Nurture"),
        ("Opportunity", "2.5", 80, "S", "Proposal review"),
        ("Lead", "1", 100, "L", "Ad copy"),
    ):
        services.add_idea(
            meeting,
            meeting.host,
            team_id=None,
            stage_id=stage_id(meeting, stage),
            title=title,
            lift=lift,
            confidence=confidence,
            effort=effort,
            now=now,
        )
    report = sensitivity.sensitivity_report(meeting.id)
    assert report.baseline_cents == 5_000_000
    assert [(s.name, s.gain_cents) for s in report.stages][:2] == [("MQL", 200_000), ("Opportunity", 200_000)]
    # Ad copy: Lead +1 pp = +1,250.00 × 100 % ÷ 3 = 416.67
    assert [(g.idea.title, g.gain_cents, g.score_cents) for g in report.ideas] == [
        ("Proposal review", 500_000, 400_000),
        ("Nurture", 1_000_000, 300_000),
        ("Ad copy", 125_000, 41_667),
    ]


def test_sensitivity_csv_is_neutralised_and_readable(make, now):
    import csv
    import io

    meeting = make_meeting(make, now)
    save(meeting, meeting.host, [("=Lead", 100), ("Won", 10)], avg_cents=100_000)
    services.add_idea(
        meeting,
        meeting.host,
        team_id=None,
        stage_id=stage_id(meeting, "=Lead"),
        title="@SUM(A1)",
        lift="1",
        confidence=50,
        effort="M",
        now=now,
    )
    rows = list(csv.DictReader(io.StringIO(sensitivity.sensitivity_csv(sensitivity.sensitivity_report(meeting.id)))))
    assert [r["type"] for r in rows] == ["stage", "idea"]
    assert (
        rows[0]["name"] == "'=Lead" and rows[0]["conversion_pct"] == "10.00" and rows[0]["revenue_added"] == "1000.00"
    )
    # 100 × 11 % × 1,000.00 − 10,000.00 = 1,000.00; × 50 % ÷ 2 = 250.00
    assert (rows[1]["name"], rows[1]["stage"], rows[1]["revenue_added"], rows[1]["score"]) == (
        "'@SUM(A1)",
        "'=Lead",
        "1000.00",
        "250.00",
    )


# --- deals and feedback ---------------------------------------------------------------------------


def test_importing_deals_is_all_or_nothing(make, now):
    meeting = make_meeting(make, now, starts_in=timedelta(days=3))
    with pytest.raises(inputs.InputProblems) as caught:
        playback.import_deals(meeting, meeting.host, DEALS_CSV + "Umbrella,SMB,pending,Event\n", now)
    assert [str(p) for p in caught.value.problems] == ["Line 6: the outcome “pending” is not won, lost or no decision."]
    assert db.session.scalar(select(func.count(PlaybackDeal.id))) == 0
    added = playback.import_deals(meeting, meeting.host, DEALS_CSV, now)
    assert [(d.name, d.outcome) for d in added] == [
        ("Acme", "won"),
        ("Globex", "lost"),
        ("Initech", "no_decision"),
        ("Hooli", "lost"),
    ]
    with pytest.raises(inputs.InputProblems, match="Line 2: the deal “Acme” is already in the list"):
        playback.import_deals(meeting, meeting.host, DEALS_CSV, now)
    with pytest.raises(NotAllowed):
        playback.import_deals(meeting, make.user(role="leader"), DEALS_CSV, now)


def test_adding_a_deal_by_hand(make, now):
    meeting = make_meeting(make, now)
    deal = playback.add_deal(meeting, meeting.host, " Acme ", "Enterprise", "won", "Webinar", now)
    assert (deal.name, deal.outcome) == ("Acme", "won")
    with pytest.raises(ValidationFailed, match="already in the list") as caught:
        playback.add_deal(meeting, meeting.host, "ACME", "", "lost", "", now)
    assert caught.value.field == "name"
    with pytest.raises(ValidationFailed, match="The deal name is missing"):
        playback.add_deal(meeting, meeting.host, "", "", "lost", "", now)


def test_feedback_uses_the_codes_the_outcome_calls_for_and_can_be_changed(make, now):
    ensure_codebook(now)
    attendee = make.marketer()
    meeting = make_meeting(make, now, people=[attendee])
    won, lost, *_ = playback.import_deals(meeting, meeting.host, DEALS_CSV, now)
    saves_time, price = code("Saves time", "why_buy").id, code("Price", "loss_reason").id
    with pytest.raises(ValidationFailed, match="Choose why-buy reasons: this deal was won"):
        playback.save_feedback(meeting, won, attendee, 4, [price], "", now)
    with pytest.raises(ValidationFailed, match="Choose loss reasons: this deal was lost"):
        playback.save_feedback(meeting, lost, attendee, 2, [saves_time], "", now)
    with pytest.raises(ValidationFailed, match="1 to 5"):
        playback.save_feedback(meeting, won, attendee, 6, [saves_time], "", now)
    risk = code("Reduces risk", "why_buy").id
    playback.save_feedback(meeting, won, attendee, 4, [saves_time, risk], "Fast rollout", now)
    playback.save_feedback(
        meeting, won, attendee, 5, [risk, code("Cost saving", "why_buy").id], "", now
    )  # keeps one, adds one
    feedback = db.session.scalar(select(DealFeedback))
    assert (feedback.lead_quality, feedback.note) == (5, "")
    assert sorted(db.session.scalars(select(DealFeedbackCode.reason_code_id))) == sorted(
        [risk, code("Cost saving", "why_buy").id]
    )
    assert db.session.scalar(select(func.count(DealFeedback.id))) == 1
    with pytest.raises(NotAllowed):
        playback.save_feedback(meeting, won, make.marketer(), 3, [], "", now)
    playback.save_feedback(meeting, won, meeting.host, 3, [], "", now)  # the facilitator was there too


def test_deal_summary_by_reason_lead_source_and_segment(make, now):
    ensure_codebook(now)
    a, b = make.marketer(), make.user(department="Sales")
    meeting = make_meeting(make, now, people=[a, b])
    acme, globex, initech, hooli = playback.import_deals(meeting, meeting.host, DEALS_CSV, now)
    price, competitor = code("Price", "loss_reason").id, code("Lost to competitor", "loss_reason").id
    playback.save_feedback(meeting, acme, a, 5, [code("Saves time", "why_buy").id], "Loved the demo", now)
    playback.save_feedback(meeting, globex, a, 2, [price, competitor], "", now)
    playback.save_feedback(meeting, globex, b, 3, [price], "", now)
    playback.save_feedback(meeting, hooli, b, 1, [price], "Never had budget", now)
    summary = playback.deal_summary(meeting.id)
    assert (summary.deals, summary.feedback) == (4, 4)
    losses = summary.reasons["loss_reason"]
    assert [(r.label, r.mentions, r.deals, maths.percent(r.share)) for r in losses] == [
        ("Price", 3, 2, "75.0 %"),
        ("Lost to competitor", 1, 1, "25.0 %"),
    ]
    assert [(r.label, r.mentions) for r in summary.reasons["why_buy"]] == [("Saves time", 1)]
    by_source = {g.label: g for g in summary.by_lead_source}
    assert (by_source["Webinar"].deals, by_source["Webinar"].won, by_source["Webinar"].no_decision) == (2, 1, 1)
    assert maths.percent(by_source["Webinar"].win_rate) == "50.0 %"
    assert maths.average(by_source["Outbound"].avg_lead_quality) == "2.5"
    assert [g.label for g in summary.by_lead_source] == ["Webinar", "Outbound", "(not given)"]
    by_segment = {g.label: g for g in summary.by_segment}
    assert (by_segment["SMB"].deals, by_segment["SMB"].lost, by_segment["SMB"].feedback) == (2, 1, 1)
    assert maths.average(by_segment["Enterprise"].avg_lead_quality) == "3.3"  # (5 + 2 + 3) / 3
    assert sorted(n[2] for n in summary.notes) == ["Loved the demo", "Never had budget"]


def test_deleting_a_meeting_takes_its_funnel_work_with_it(make, now, is_postgres):
    meeting = make_meeting(make, now, people=mixed_people(make, 1, 1))
    save(meeting, meeting.host)
    mini_teams.form_teams(meeting, meeting.host, now)
    playback.import_deals(meeting, meeting.host, DEALS_CSV, now)
    db.session.commit()
    db.session.execute(Activity.__table__.delete().where(Activity.id == meeting.id))
    db.session.commit()
    for model in (FunnelSnapshot, FunnelTeamMember, FunnelTeamStage, PlaybackDeal):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_demo_seed_fills_the_funnel_meeting_and_the_playback_and_is_idempotent(app, now):
    from program.reviews.funnel.seed import seed_funnel
    from program.seed import seed_demo

    seed_demo()  # the company, the codebook and the demo meetings (the funnel part may or may not be wired in yet)
    first = seed_funnel(now)
    again = seed_funnel(now)
    assert "already seeded" in again or first == ""
    snapshot = db.session.scalar(select(FunnelSnapshot))
    assert snapshot is not None, first
    report = sensitivity.sensitivity_report(snapshot.activity_id)
    assert [s.entering for s in report.funnel.stages] == [1240, 496, 119, 52, 14]
    assert len(report.ideas) == 8 and report.ideas[0].score_cents >= report.ideas[-1].score_cents
    assert all(r.count <= (s.lost or 0) for s in report.funnel.stages for r in s.reasons)
    teams = mini_teams.teams_for(snapshot.activity_id)
    assert teams and sorted({len(t.members) for t in teams}) in ([2], [2, 3])
    assert db.session.scalar(select(func.count(PlaybackDeal.id))) == 10
    assert db.session.scalar(select(func.count(FunnelSnapshot.id))) == 1
