"""Debrief tasks: created by attendance, due dates (working days, DST), drafts, submit, edit window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from program.activities import services as core
from program.activities.models import Activity
from program.debriefs import due_dates, template_versions
from program.debriefs import services as ds
from program.debriefs.models import DebriefTask, Tactic
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db


def test_working_days_skip_the_weekend():
    friday = date(2026, 11, 27)
    assert due_dates.add_working_days(friday, 2) == date(2026, 12, 1)  # Tuesday
    assert due_dates.add_working_days(date(2026, 11, 23), 2) == date(2026, 11, 25)


def test_due_dates_per_kind_and_across_dst():
    ride = Activity(
        kind="ride_along", timezone="Europe/London", ends_at=datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    )  # a Friday
    assert due_dates.due_at_for(ride) == datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)
    # 7 days across the end of summer time in Berlin (25 Oct 2026): still 23:59:59 local on the 7th day.
    shadow = Activity(kind="shadow_day", timezone="Europe/Berlin", ends_at=datetime(2026, 10, 22, 15, 0, tzinfo=UTC))
    due = due_dates.due_at_for(shadow)
    assert due == datetime(2026, 10, 29, 22, 59, 59, tzinfo=UTC)  # CET (+1) after the change


def test_attendance_creates_one_task_and_mails_it(make, now, mail):
    rider = make.marketer(email="task@example.com")
    task = make.attended_task(rider)
    db.session.commit()
    assert task is not None and task.status == "open"
    assert task.due_at == due_dates.due_at_for(task.activity, tz=rider.timezone)  # due at the end of the writer's day
    msg = mail.wait_for("task@example.com", 2)[-1]
    assert msg["Subject"].startswith("Debrief due:")
    # Marking again doesn't add a second task; un-marking removes an unstarted one.
    core.mark_attendance(task.participation, task.activity.host, True, now)
    assert db.session.scalar(db.select(db.func.count(DebriefTask.id))) == 1
    core.mark_attendance(task.participation, task.activity.host, False, now)
    assert db.session.scalar(db.select(db.func.count(DebriefTask.id))) == 0
    late = make.attended_task(now=now + timedelta(days=5))  # a no-show corrected five days later
    assert late.due_at == due_dates.due_at_for(late.activity, marked_at=now + timedelta(days=5), tz=late.user.timezone)
    assert late.due_at > now + timedelta(days=5)


def test_draft_then_submit_with_validation(make, now):
    task = make.attended_task()
    draft = make.submit_debrief(task, {"learned": "", "lead_quality": ""}, submit=False)
    assert draft.state == "draft" and task.status == "open"  # drafts may leave required answers empty
    with pytest.raises(ValidationFailed) as info:
        make.submit_debrief(task, {"learned": "", "lead_quality": "7"})
    errors = info.value.errors
    prompts = {q.id: q.key for q in draft.template.questions}
    assert {prompts[qid] for qid in errors} == {"learned", "lead_quality"}
    assert "1 to 5" in errors[next(k for k, v in prompts.items() if v == "lead_quality")]
    done = make.submit_debrief(
        task, {"learned": "Speed sells.", "lead_quality": "4", "tactic": "Webinar on onboarding speed"}
    )
    assert done.state == "submitted" and task.status == "submitted" and done.submitted_at == now
    assert db.session.scalar(db.select(db.func.count(Tactic.id))) == 1


def test_unknown_code_and_other_without_text_are_refused(make):
    task = make.attended_task()
    debrief = ds.start_debrief(task, task.user, task.created_at)
    why = next(q for q in debrief.template.questions if q.key == "why_buy")
    bad = {why.id: ds.CodeAnswer(codes=["999999"])}
    errors = ds.validate_answers(debrief.template.questions, bad, final=False)
    assert "unknown" in errors[why.id]
    other = {why.id: ds.CodeAnswer(codes=["other"], other_text="")}
    assert "Unknown / other" in ds.validate_answers(debrief.template.questions, other, final=False)[why.id]


def test_edit_window_is_48_hours(make, now):
    task = make.attended_task()
    make.submit_debrief(task, at=now)
    make.submit_debrief(task, {"learned": "Edited within the window."}, at=now + timedelta(hours=47))
    with pytest.raises(NotAllowed, match="read-only"):
        make.submit_debrief(task, {"learned": "Too late."}, at=now + timedelta(hours=49))
    assert task.debrief.submitted_at == now  # editing doesn't move the submission time


def test_someone_else_cannot_write_it(make, now):
    task = make.attended_task()
    with pytest.raises(NotAllowed):
        ds.start_debrief(task, make.marketer(), now)


def test_new_template_version_leaves_old_debriefs_alone(make, now):
    task = make.attended_task()
    old = make.submit_debrief(task)
    hr = make.user(role="hr", department=None)
    specs = [template_versions.QuestionSpec(key="learned", qtype="long_text", prompt="What stood out?", required=True)]
    v2 = template_versions.publish_template(hr, "ride_along", specs, now, note="shorter")
    assert v2.version == 2
    assert old.template.version == 1 and len(old.template.questions) == 6
    fresh = make.attended_task()
    assert ds.start_debrief(fresh, fresh.user, now).template_id == v2.id
    with pytest.raises(NotAllowed):
        template_versions.publish_template(make.marketer(), "ride_along", specs, now)
    with pytest.raises(ValidationFailed, match="at least two options"):
        template_versions.publish_template(
            hr,
            "ride_along",
            [template_versions.QuestionSpec(key="x", qtype="single_choice", prompt="Pick", options=["a"])],
            now,
        )


def test_due_rules_are_configurable(app):
    rules = due_dates.parse_due_rules("ride_along=3 days, shadow_day=5 working_days, junk")
    assert rules["ride_along"] == ("days", 3) and rules["shadow_day"] == ("working_days", 5)
    app.config["DEBRIEF_DUE"] = "ride_along=1 days"
    ride = Activity(kind="ride_along", timezone="UTC", ends_at=datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
    assert due_dates.due_at_for(ride) == datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)


def test_wiring_is_explicit_and_building_another_app_changes_nothing(app):
    """``debriefs.init_app`` subscribes to attendance and registers its reminders job; ``insight.init_app`` the
    read side's pages. Building a second app (as the tests do) neither doubles a subscription nor a job."""
    from program import jobs
    from program.activities.signals import participation_changed
    from program.debriefs import mail
    from tests.conftest import make_app

    def debrief_receivers() -> int:
        return sum(1 for r in participation_changed.receivers_for(None) if r is ds.on_participation_changed)

    assert debrief_receivers() == 1
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"])
    assert debrief_receivers() == 1
    assert jobs.registered_jobs().count("debrief reminders") == 1
    assert jobs.registry._SCHEDULES["reminders"]["debrief reminders"] is mail.remind_debriefs
    for endpoint in ("debriefs.task", "debrief_admin.codes", "insight.learnings", "insight.index_csv", "contest.draw"):
        assert endpoint in other.view_functions
