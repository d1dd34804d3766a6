"""Review meetings, services: scheduling, invitations (people, teams, departments), answers, attendance,
action items carried to the next meeting of the same format, and the lead definition with its sign-offs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from program.activities.models import ActivityKind, Participation, ParticipationEvent, State
from program.debriefs.models import DebriefTask
from program.errors import InvalidTransition, NotAllowed, ValidationFailed
from program.extensions import db
from program.reviews import actions, invitations, lead_definitions, meetings
from program.reviews.models import ActionStatus, LeadDefinition, ReviewMeeting
from tests.conftest import FIXED_NOW
from tests.factories.reviews import facilitator, place, schedule

# --- helpers ----------------------------------------------------------------------------------


def history(p: Participation) -> list[tuple[str | None, str, str]]:
    rows = db.session.scalars(
        select(ParticipationEvent).where(ParticipationEvent.participation_id == p.id).order_by(ParticipationEvent.id)
    )
    return [(e.from_state, e.to_state, e.note) for e in rows]


# --- scheduling ----------------------------------------------------------------------------------


def test_schedule_creates_a_meeting_activity_with_invitations(make):
    host = facilitator(make)
    rep, marketer = make.user(department="Sales"), make.marketer()
    activity = schedule(host, people=[rep, marketer, host])
    assert activity.kind == ActivityKind.REVIEW_MEETING.value
    assert activity.seats is None and activity.host_id == host.id
    assert activity.meeting.format == "funnel_reality_check" and activity.meeting.agenda == "1. The funnel"
    assert meetings.meeting_summary(activity, True) == "Funnel Reality Check: Q4 pipeline"
    assert place(activity, host) is None  # the facilitator is not their own invitee
    for person in (rep, marketer):
        p = place(activity, person)
        assert p.state == State.INVITED.value and p.rsvp == ""
        assert history(p) == [(None, "invited", "invited")]


@pytest.mark.parametrize("role,allowed", [("staff", False), ("leader", True), ("hr", True), ("admin", True)])
def test_who_may_schedule(make, role, allowed):
    user = make.user(role=role, department="People" if role == "hr" else "Sales")
    if allowed:
        assert schedule(user).host_id == user.id
    else:
        with pytest.raises(NotAllowed):
            schedule(user)


@pytest.mark.parametrize(
    "change,field",
    [
        ({"title": "  "}, "title"),
        ({"format": "party"}, "format"),
        ({"end_before_start": True}, "end"),
        ({"past": True}, "start"),
        ({"location": "", "video_url": ""}, "location"),
        ({"video_url": "javascript:alert(1)"}, "video_url"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_schedule_validation_names_the_field(make, change, field):
    host = facilitator(make)
    start = FIXED_NOW + timedelta(days=2)
    data = meetings.MeetingData(
        title="Check",
        format="other",
        day=start.date(),
        start=start.time().replace(tzinfo=None),
        end=(start + timedelta(hours=1)).time().replace(tzinfo=None),
        timezone="UTC",
        location="Room",
        video_url="",
    )
    for key, value in change.items():
        if key == "end_before_start":
            data.end = (start - timedelta(hours=1)).time().replace(tzinfo=None)
        elif key == "past":
            data.day = (FIXED_NOW - timedelta(days=1)).date()
        else:
            setattr(data, key, value)
    with pytest.raises(ValidationFailed) as exc:
        meetings.schedule_meeting(host, data, FIXED_NOW)
    assert field in exc.value.errors


def test_update_moves_time_and_raises_sequence(make, now):
    host = facilitator(make)
    activity = schedule(host, people=[make.marketer()])
    data = meetings.meeting_data_from(activity)
    data.title = "Renamed"
    meetings.update_meeting(host, activity, data, now)
    assert activity.ical_sequence == 0  # a new title alone is not a calendar change
    data.start, data.end = data.start.replace(hour=15), data.end.replace(hour=16)
    meetings.update_meeting(host, activity, data, now)
    assert activity.ical_sequence == 1 and activity.starts_at.hour == 15
    other = make.user(role="leader", department="Sales")
    with pytest.raises(NotAllowed):
        meetings.update_meeting(other, activity, data, now)


# --- invitations ---------------------------------------------------------------------------------


def test_team_expands_to_active_members_and_manager(make):
    lead = make.user(role="leader", department="Sales", name="Team Lead")
    team = make.team("Enterprise", "Sales", manager=lead)
    members = [make.user(department="Sales", team=team) for _ in range(3)]
    gone = make.user(department="Sales", team=team, active=False)
    other_team = make.user(department="Sales", team=make.team("SMB", "Sales"))
    host = facilitator(make)
    activity = schedule(host, teams=[team])
    invited = {p.user_id for p in activity.participations}
    assert invited == {lead.id, *(m.id for m in members)}
    assert gone.id not in invited and other_team.id not in invited
    assert history(place(activity, members[0]))[0][2] == "invited with the team Enterprise"


def test_department_expands_to_its_active_people_and_skips_the_facilitator(make):
    host = make.user(role="leader", department="Marketing")
    marketers = [make.marketer() for _ in range(3)]
    make.marketer(active=False)
    make.user(department="Sales")
    activity = schedule(host, departments=[make.department("Marketing")])
    assert {p.user_id for p in activity.participations} == {m.id for m in marketers}
    assert history(place(activity, marketers[0]))[0][2] == "invited with the department Marketing"


def test_people_teams_and_departments_combine_without_duplicates(make):
    team = make.team("Demand Generation", "Marketing")
    person = make.marketer(team=team)
    activity = schedule(
        facilitator(make, department="Sales"), people=[person], teams=[team], departments=[make.department("Marketing")]
    )
    assert [p.user_id for p in activity.participations] == [person.id]
    assert history(activity.participations[0]) == [(None, "invited", "invited")]  # named first, kept once


def test_only_sales_and_marketing_can_be_invited(make):
    host = facilitator(make)
    hr = make.user(role="hr", department="People")
    with pytest.raises(ValidationFailed) as exc:
        schedule(host, people=[hr])
    assert "people" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        schedule(host, departments=[make.department("People")])
    assert "departments" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        schedule(host, teams=[make.team("People Operations", "People")])
    assert "teams" in exc.value.errors


def test_invite_more_reinvites_decliners_and_leaves_others(make, now):
    host = facilitator(make)
    yes, no = make.marketer(), make.marketer()
    activity = schedule(host, people=[yes, no])
    invitations.rsvp(place(activity, yes), yes, "yes", now)
    invitations.rsvp(place(activity, no), no, "no", now)
    newcomer = make.user(department="Sales")
    invited = invitations.invite_people(activity, host, [yes, no, newcomer, host], now)
    assert {p.user_id for p in invited} == {no.id, newcomer.id}
    assert place(activity, yes).state == State.BOOKED.value
    assert place(activity, no).state == State.INVITED.value and place(activity, no).rsvp == ""
    with pytest.raises(NotAllowed):
        invitations.invite_people(activity, yes, [newcomer], now)
    with pytest.raises(ValidationFailed):
        invitations.invite(activity, host, now)  # nothing chosen


def test_no_invitations_after_the_end_or_when_cancelled(make, now):
    host = facilitator(make)
    past = schedule(host, starts_in=timedelta(hours=-3))
    with pytest.raises(InvalidTransition):
        invitations.invite_people(past, host, [make.marketer()], now)
    upcoming = schedule(host)
    meetings.cancel_meeting(host, upcoming, "", now)
    with pytest.raises(InvalidTransition):
        invitations.invite_people(upcoming, host, [make.marketer()], now)


# --- answers -------------------------------------------------------------------------------------


def test_rsvp_moves_along_the_ladder_with_history(make, now):
    person = make.marketer()
    activity = schedule(facilitator(make), people=[person])
    p = place(activity, person)
    invitations.rsvp(p, person, "maybe", now)
    assert (p.state, p.rsvp) == (State.INVITED.value, "maybe")
    invitations.rsvp(p, person, "yes", now)
    assert (p.state, p.rsvp) == (State.BOOKED.value, "yes")
    invitations.rsvp(p, person, "yes", now)  # the same answer again changes nothing
    invitations.rsvp(p, person, "no", now)
    assert (p.state, p.rsvp) == (State.DECLINED.value, "no")
    assert history(p) == [
        (None, "invited", "invited"),
        ("invited", "invited", "answered maybe"),
        ("invited", "booked", "answered yes"),
        ("booked", "declined", "answered no"),
    ]


def test_rsvp_rules(make, now):
    person, other = make.marketer(), make.marketer()
    host = facilitator(make)
    activity = schedule(host, people=[person, other])
    p = place(activity, person)
    with pytest.raises(NotAllowed):
        invitations.rsvp(p, other, "yes", now)
    with pytest.raises(ValidationFailed):
        invitations.rsvp(p, person, "perhaps", now)
    with pytest.raises(InvalidTransition, match="started"):
        invitations.rsvp(p, person, "yes", activity.starts_at + timedelta(minutes=1))
    meetings.cancel_meeting(host, activity, "Moved to next month", now)
    with pytest.raises(InvalidTransition, match="cancelled"):
        invitations.rsvp(p, person, "yes", now)


# --- attendance ----------------------------------------------------------------------------------


def _debrief_task(p):
    return db.session.scalar(select(DebriefTask).where(DebriefTask.participation_id == p.id))


def test_attendance_after_the_start_creates_debrief_tasks(make, now):
    host = facilitator(make)
    said_yes, silent, said_no, absent = (make.marketer() for _ in range(4))
    activity = schedule(host, starts_in=timedelta(days=1), people=[said_yes, silent, said_no, absent])
    invitations.rsvp(place(activity, said_yes), said_yes, "yes", now)
    invitations.rsvp(place(activity, said_no), said_no, "no", now)
    invitations.rsvp(place(activity, absent), absent, "yes", now)
    with pytest.raises(InvalidTransition, match="started"):
        invitations.take_attendance(place(activity, said_yes), host, True, now)
    later = activity.starts_at + timedelta(minutes=30)
    invitations.take_attendance(place(activity, said_yes), host, True, later)
    invitations.take_attendance(place(activity, silent), host, True, later)
    invitations.take_attendance(place(activity, absent), host, False, later)
    with pytest.raises(InvalidTransition, match="answered no"):
        invitations.take_attendance(place(activity, said_no), host, False, later)
    invitations.take_attendance(place(activity, said_no), host, True, later)  # came after all
    states = {u.id: place(activity, u).state for u in (said_yes, silent, said_no, absent)}
    assert states == {said_yes.id: "attended", silent.id: "attended", said_no.id: "attended", absent.id: "no_show"}
    assert history(place(activity, silent))[-1] == ("invited", "attended", "had not answered")  # no detour via booked
    for person in (said_yes, silent, said_no):
        task = _debrief_task(place(activity, person))
        assert task is not None and task.activity.kind == "review_meeting"
    assert _debrief_task(place(activity, absent)) is None


def test_who_takes_attendance(make, now):
    boss = make.user(role="leader", department="Marketing")
    host = make.user(role="leader", department="Marketing", manager=boss)
    a, b = make.marketer(), make.marketer()
    activity = schedule(host, starts_in=timedelta(hours=-2), people=[a, b])
    with pytest.raises(NotAllowed):
        invitations.take_attendance(place(activity, a), a, True, now)  # never oneself
    with pytest.raises(NotAllowed):
        invitations.take_attendance(place(activity, a), b, True, now)
    with pytest.raises(NotAllowed):
        invitations.take_attendance(place(activity, a), make.user(role="leader", department="Sales"), True, now)
    invitations.take_attendance(place(activity, a), boss, True, now)  # the facilitator's manager
    invitations.take_attendance(place(activity, b), make.user(role="admin", department=None), False, now)
    assert (place(activity, a).state, place(activity, b).state) == ("attended", "no_show")


# --- cancelling ----------------------------------------------------------------------------------


def test_cancel_tells_everyone_on_the_list(make, now):
    host = facilitator(make)
    yes, waiting, no = make.marketer(), make.marketer(), make.marketer()
    activity = schedule(host, people=[yes, waiting, no])
    invitations.rsvp(place(activity, yes), yes, "yes", now)
    invitations.rsvp(place(activity, no), no, "no", now)
    with pytest.raises(NotAllowed):
        meetings.cancel_meeting(yes, activity, "", now)
    affected = meetings.cancel_meeting(host, activity, "Quarter close", now)
    assert {p.user_id for p in affected} == {yes.id, waiting.id}
    assert place(activity, no).state == State.DECLINED.value
    assert activity.is_cancelled and activity.ical_sequence == 1


# --- action items --------------------------------------------------------------------------------


def _action(activity, actor, owner, due_in=7, title="Fix the MQL form", now=FIXED_NOW):
    return actions.add_action(
        activity,
        actor,
        actions.ActionData(title=title, owner_id=owner.id, due_date=now.date() + timedelta(days=due_in)),
        now,
    )


def test_actions_added_by_facilitator_and_invitees(make, now):
    host = facilitator(make)
    invitee, decliner, stranger = make.marketer(), make.marketer(), make.marketer()
    activity = schedule(host, people=[invitee, decliner])
    invitations.rsvp(place(activity, decliner), decliner, "no", now)
    item = _action(activity, host, invitee)
    assert (item.status, item.owner_id, item.created_by_id) == ("open", invitee.id, host.id)
    assert _action(activity, invitee, host).owner_id == host.id  # the facilitator can own one too
    for outsider in (decliner, stranger):
        with pytest.raises(NotAllowed):
            _action(activity, outsider, invitee)


@pytest.mark.parametrize(
    "change,field",
    [
        ({"title": ""}, "title"),
        ({"owner": "hr"}, "owner_id"),
        ({"owner": None}, "owner_id"),
        ({"due": -1}, "due_date"),
        ({"due": None}, "due_date"),
    ],
)
def test_action_validation(make, now, change, field):
    host = facilitator(make)
    activity = schedule(host)
    owner = make.marketer()
    data = actions.ActionData(title="Do it", owner_id=owner.id, due_date=now.date())
    if "title" in change:
        data.title = change["title"]
    if "owner" in change:
        data.owner_id = make.user(role="hr", department="People").id if change["owner"] else None
    if "due" in change:
        data.due_date = None if change["due"] is None else now.date() + timedelta(days=change["due"])
    with pytest.raises(ValidationFailed) as exc:
        actions.add_action(activity, host, data, now)
    assert field in exc.value.errors


def test_action_status_and_edit_rights(make, now):
    host = facilitator(make)
    owner, other = make.marketer(), make.marketer()
    activity = schedule(host, people=[owner, other])
    item = _action(activity, host, owner)
    with pytest.raises(NotAllowed):
        actions.set_action_status(item, other, "done", now)
    actions.set_action_status(item, owner, "done", now)
    assert item.status == "done" and item.closed_at == now
    actions.set_action_status(item, owner, "open", now)
    assert item.status == "open" and item.closed_at is None
    with pytest.raises(NotAllowed):
        actions.update_action(item, owner, actions.ActionData("New", other.id, now.date(), "open"), now)
    actions.update_action(
        item, host, actions.ActionData("New title", other.id, now.date() + timedelta(days=2), "dropped"), now
    )
    assert (item.title, item.owner_id, item.status) == ("New title", other.id, "dropped")


def test_open_actions_follow_the_format_to_the_next_meeting(make, now):
    host = facilitator(make)
    owner = make.marketer()
    first = schedule(host, starts_in=timedelta(days=-20), people=[owner], title="October")
    second = schedule(host, starts_in=timedelta(days=-6), people=[owner], title="November")
    nxt = schedule(host, starts_in=timedelta(days=14), people=[owner], title="December")
    other_format = schedule(host, starts_in=timedelta(days=15), fmt="win_loss_playback", title="Playback")
    at_first = first.ends_at + timedelta(hours=1)
    old_open = _action(first, host, owner, title="Old but still open", now=at_first)
    _action(first, host, owner, title="Done long ago", now=at_first).status = ActionStatus.DONE.value
    at_second = second.ends_at + timedelta(hours=1)
    still_open = _action(second, host, owner, title="Still open", now=at_second)
    closed = _action(second, host, owner, title="Closed", now=at_second)
    actions.set_action_status(closed, owner, "done", now)
    dropped = _action(second, host, owner, title="Dropped", now=at_second)
    actions.set_action_status(dropped, host, "dropped", now)
    _action(nxt, host, owner, title="Own item of December")
    db.session.flush()

    assert meetings.previous_meeting(nxt).id == second.id
    assert [a.title for a in actions.carried_over_actions(nxt)] == [still_open.title, old_open.title]
    assert [a.title for a in actions.carried_over_actions(second)] == [old_open.title]
    assert actions.carried_over_actions(first) == []
    assert actions.carried_over_actions(other_format) == []
    actions.set_action_status(still_open, owner, "done", now)
    assert [a.title for a in actions.carried_over_actions(nxt)] == [old_open.title]


def test_cancelled_meetings_are_not_the_previous_one(make, now):
    host = facilitator(make)
    held = schedule(host, starts_in=timedelta(days=-10))
    skipped = schedule(host, starts_in=timedelta(days=2))
    meetings.cancel_meeting(host, skipped, "", now)
    nxt = schedule(host, starts_in=timedelta(days=9))
    assert meetings.previous_meeting(nxt).id == held.id


# --- lead definition -----------------------------------------------------------------------------


def _leaders(make):
    return make.user(role="leader", department="Sales"), make.user(role="leader", department="Marketing")


def test_lead_definition_needs_both_sign_offs_and_its_date(make, now):
    sales, marketing = _leaders(make)
    today = now.date()
    v1 = lead_definitions.record_lead_definition(sales, "  Demo requested; 200+ staff.  ", today, now)
    assert (v1.version, v1.criteria) == (1, "Demo requested; 200+ staff.")
    assert lead_definitions.current_lead_definition(today) is None
    lead_definitions.sign_off_lead_definition(v1, sales, now)
    assert lead_definitions.current_lead_definition(today) is None  # one side is not enough
    lead_definitions.sign_off_lead_definition(v1, marketing, now)
    assert lead_definitions.current_lead_definition(today).id == v1.id
    assert (v1.sales_signoff_by_id, v1.marketing_signoff_by_id) == (sales.id, marketing.id)

    v2 = lead_definitions.record_lead_definition(
        marketing, "Demo requested; budget holder named.", today + timedelta(days=7), now
    )
    lead_definitions.sign_off_lead_definition(v2, marketing, now)
    lead_definitions.sign_off_lead_definition(v2, sales, now)
    assert lead_definitions.current_lead_definition(today).id == v1.id  # v2 is signed but not yet effective
    assert lead_definitions.definition_status(v2, v1, today)[0] == "scheduled"
    assert lead_definitions.current_lead_definition(today + timedelta(days=7)).id == v2.id
    assert [d.version for d in lead_definitions.lead_definitions()] == [2, 1]  # earlier versions are kept
    assert lead_definitions.definition_status(v1, v2, today + timedelta(days=7))[0] == "superseded"


def test_sign_off_rules(make, now):
    sales, marketing = _leaders(make)
    second_sales = make.user(role="leader", department="Sales")
    defn = lead_definitions.record_lead_definition(sales, "Criteria", now.date(), now)
    for outsider in (
        make.user(department="Sales"),
        make.user(role="admin", department="Sales"),
        make.user(role="hr", department="People"),
        make.user(role="leader", department="People"),
    ):
        with pytest.raises(NotAllowed):
            lead_definitions.sign_off_lead_definition(defn, outsider, now)
    lead_definitions.sign_off_lead_definition(defn, sales, now)
    with pytest.raises(InvalidTransition, match="already signed off for sales"):
        lead_definitions.sign_off_lead_definition(defn, second_sales, now)
    assert defn.sales_signoff_by_id == sales.id
    with pytest.raises(NotAllowed):
        lead_definitions.record_lead_definition(make.marketer(), "Mine", now.date(), now)
    with pytest.raises(ValidationFailed) as exc:
        lead_definitions.record_lead_definition(sales, " ", None, now)
    assert set(exc.value.errors) == {"criteria", "effective_date"}


def test_an_older_draft_cannot_be_adopted_after_a_newer_one(make, now):
    sales, marketing = _leaders(make)
    old = lead_definitions.record_lead_definition(sales, "Old draft", now.date(), now)
    new = lead_definitions.record_lead_definition(sales, "New", now.date(), now)
    lead_definitions.sign_off_lead_definition(new, sales, now)
    lead_definitions.sign_off_lead_definition(new, marketing, now)
    with pytest.raises(InvalidTransition, match="Version 2 is already in force"):
        lead_definitions.sign_off_lead_definition(old, marketing, now)
    assert lead_definitions.definition_status(old, new, now.date())[0] == "not_adopted"


def test_the_database_decides_a_simultaneous_sign_off(make, now):
    """A second leader of the same side signing at the same moment loses, even with a stale copy in memory."""
    sales, marketing = _leaders(make)
    rival = make.user(role="leader", department="Sales")
    defn = lead_definitions.record_lead_definition(sales, "Criteria", now.date(), now)
    db.session.flush()
    # The rival's sign-off lands in the database behind this session's back; our copy still shows the slot free.
    db.session.execute(
        text("UPDATE lead_definition SET sales_signoff_by_id = :u WHERE id = :id"), {"u": rival.id, "id": defn.id}
    )
    with pytest.raises(InvalidTransition):
        lead_definitions.sign_off_lead_definition(defn, sales, now)
    db.session.expire_all()
    assert db.session.get(LeadDefinition, defn.id).sales_signoff_by_id == rival.id


def test_definitions_recorded_at_a_lead_definition_session(make, now):
    host = make.user(role="hr", department="People")  # HR facilitates; as facilitator may record
    session = schedule(host, fmt="lead_definition", title="What sales accepts")
    defn = lead_definitions.record_lead_definition(host, "Criteria", date(2026, 12, 1), now, session)
    assert defn.activity_id == session.id
    assert lead_definitions.lead_definitions(session) == [defn]
    frc = schedule(host)
    with pytest.raises(ValidationFailed):
        lead_definitions.record_lead_definition(host, "Criteria", date(2026, 12, 1), now, frc)
    with pytest.raises(NotAllowed):
        lead_definitions.record_lead_definition(host, "Criteria", date(2026, 12, 1), now)  # HR, outside the session


def test_meeting_detail_row_is_removed_with_its_activity(make):
    activity = schedule(facilitator(make))
    db.session.delete(activity)
    db.session.flush()
    assert db.session.scalar(select(ReviewMeeting)) is None


def test_today_is_the_persons(make):
    late = datetime(2026, 11, 23, 23, 30, tzinfo=ZoneInfo("UTC"))
    tokyo = make.user(timezone="Asia/Tokyo")
    assert meetings.today_for(tokyo, late) == date(2026, 11, 24)
