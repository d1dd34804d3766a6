"""Unvalidated input never reaches the database: every form refuses NUL and other control characters,
integers outside the 32-bit columns, non-finite numbers and text longer than its column — beside the field,
with a 422 and what the user typed kept — and so do the CSV imports.

Two halves: a static walk over every form class in ``program`` (each inherits the Tandem base form; each
text field named like a column of the model it saves to is no longer than that column), and a fuzz pass
that posts hostile values to the create/edit routes as their users and counts the answers. The fuzz pass
matters most on PostgreSQL, which refuses NUL bytes, over-long text and out-of-range integers that SQLite
stores without a word.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from program.extensions import db

# --- every form, walked ----------------------------------------------------------------------------


def _program_form_classes() -> list[type]:
    """Every form class defined in ``program`` (FlaskForm pages and their plain-Form subforms)."""
    import importlib
    import pkgutil

    import wtforms

    import program

    for module in pkgutil.walk_packages(program.__path__, "program."):
        importlib.import_module(module.name)
    found, todo = set(), [wtforms.Form]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return sorted((c for c in found if c.__module__.startswith("program.")), key=lambda c: c.__qualname__)


def _unbound_fields(form_class) -> list[tuple[str, object]]:
    """(name, unbound field) of a form class, as WTForms collects them."""
    return [
        (name, value)
        for name in dir(form_class)
        if not name.startswith("_") and hasattr(value := getattr(form_class, name), "_formfield")
    ]


def _validators(unbound) -> list:
    if "validators" in unbound.kwargs:
        return list(unbound.kwargs["validators"] or [])
    return list(unbound.args[1]) if len(unbound.args) > 1 and isinstance(unbound.args[1], (list, tuple)) else []


def test_every_form_inherits_the_tandem_form():
    from flask_wtf import FlaskForm

    from program.validation import TandemForm

    pages = [c for c in _program_form_classes() if issubclass(c, FlaskForm)]
    assert len(pages) > 40, "the walk should find the app's forms"
    assert [c.__qualname__ for c in pages if not issubclass(c, TandemForm)] == []


def test_text_fields_fit_the_columns_they_fill():
    """Each text field named like a String column of a model its form ``saves_to`` is at most that long."""
    from wtforms import StringField
    from wtforms.validators import Length

    from program.validation import ColumnLength, column_length

    checked, wrong = 0, []
    for form_class in _program_form_classes():
        models = getattr(form_class, "saves_to", ())
        for name, unbound in _unbound_fields(form_class):
            if not issubclass(unbound.field_class, StringField):
                continue
            limits = [v.max for v in _validators(unbound) if isinstance(v, Length) and v.max >= 0]
            for v in _validators(unbound):  # from_column: no longer than any column it names
                if isinstance(v, ColumnLength) and v.max > min(column_length(c) for c in v.columns):
                    wrong.append(f"{form_class.__qualname__}.{name}: {v.max} > its columns")
            for model in models:
                column = model.__table__.columns.get(name)
                length = getattr(column.type, "length", None) if column is not None else None
                if not length:
                    continue
                checked += 1
                if not limits or min(limits) > length:
                    wrong.append(
                        f"{form_class.__qualname__}.{name}: {min(limits) if limits else 'no limit'} "
                        f"> {model.__name__}.{name} String({length})"
                    )
    assert checked >= 20, "the forms should declare the models they save to"
    assert wrong == []


def test_saves_to_names_models_the_form_fills():
    """A stale ``saves_to`` (a model none of the form's fields fills) would check nothing."""
    from program.validation import ColumnLength

    stale = []
    for form_class in _program_form_classes():
        fields = _unbound_fields(form_class)
        names = {name for name, _ in fields}
        named = {c.class_ for _, u in fields for v in _validators(u) if isinstance(v, ColumnLength) for c in v.columns}
        for model in getattr(form_class, "saves_to", ()):
            if model not in named and not names & set(model.__table__.columns.keys()):
                stale.append(f"{form_class.__qualname__} → {model.__name__}")
    assert stale == []


def test_column_length_reads_the_model():
    from program.accounts.models import Department, User
    from program.validation import column_length, from_column

    assert column_length(User.name) == 120 and column_length(Department.name) == 80
    (validator,) = from_column(User.name, Department.name)
    assert validator.max == 80 and validator.message == "Keep it to 80 characters."
    with pytest.raises(TypeError):
        column_length(User.id)


# --- the base form's checks ------------------------------------------------------------------------


def _probe_form():
    from wtforms import (
        DecimalField,
        FieldList,
        FloatField,
        Form,
        FormField,
        IntegerField,
        SelectField,
        SelectMultipleField,
        StringField,
        TextAreaField,
    )
    from wtforms.validators import Length

    from program.formutil import int_or_none
    from program.validation import TandemForm

    class Row(Form):
        name = StringField()

    class Probe(TandemForm):
        title = StringField(validators=[Length(max=10)])
        body = TextAreaField()
        count = IntegerField()
        ratio = FloatField()
        amount = DecimalField()
        owner_id = SelectField(coerce=int_or_none, validate_choice=False)
        people = SelectMultipleField(coerce=int, validate_choice=False)
        rows = FieldList(FormField(Row), min_entries=2)

    return Probe


def _probe(app, **data):
    from werkzeug.datastructures import MultiDict

    form_class = _probe_form()
    values = {
        "title": "ok",
        "body": "",
        "count": "1",
        "ratio": "0.5",
        "amount": "2.50",
        "owner_id": "",
        "rows-0-name": "",
        "rows-1-name": "",
        **data,
    }
    with app.test_request_context(method="POST", data=MultiDict(values)):
        form = form_class()
        return form, form.validate()


def test_the_base_form_accepts_ordinary_text(app):
    form, valid = _probe(app, body="Line one\r\n\tLine two", title="Café ☕")
    assert valid and not form.unstorable and form.errors == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "Ops\x00", "Remove the control character"),
        ("body", "bell\x07", "Remove the control character"),
        ("body", "del\x7f", "Remove the control character"),
        ("body", "Z" * 20_001, "Keep it to 20,000 characters."),
        ("title", "Z" * 11, "Field cannot be longer than 10 characters."),  # the field's own message comes first
        ("count", "2147483648", "Give a number from -2,147,483,648 to 2,147,483,647."),
        ("count", "-2147483649", "Give a number from -2,147,483,648 to 2,147,483,647."),
        ("ratio", "1e309", "Give a finite number."),
        ("ratio", "nan", "Give a finite number."),
        ("amount", "Infinity", "Give a finite number."),
        ("owner_id", "2147483648", "Choose from the list."),
        ("owner_id", str(10**30), "Choose from the list."),
        ("people", str(10**30), "Choose from the list."),
    ],
)
def test_the_base_form_refuses_what_the_database_cannot_take(app, field, value, message):
    form, valid = _probe(app, **{field: value})
    assert not valid and form.unstorable
    assert [e for e in form.errors[field] if message in e], form.errors
    if field in ("title", "body"):
        assert form[field].data == value  # what the user typed is kept for the page shown again


def test_the_base_form_checks_subform_rows(app):
    form, valid = _probe(app, **{"rows-1-name": "Lead\x00"})
    assert not valid and form.unstorable
    assert (
        form.rows.entries[1].form.name.errors
        and "Remove the control character" in form.rows.entries[1].form.name.errors[0]
    )
    assert form.errors["rows"][1]["name"]  # the list, and so the page's error summary, sees it


def test_an_unstorable_form_never_reaches_the_service(app):
    from program.errors import ValidationFailed
    from program.validation import refuse_unstorable

    form, _ = _probe(app, title="Ops\x00")
    with pytest.raises(ValidationFailed):
        refuse_unstorable(form)
    form, _ = _probe(app, title="")  # invalid for another reason: the service may still add its messages
    refuse_unstorable(form)


# --- the examples, through the pages -------------------------------------------------------


def test_a_nul_in_a_department_name_is_refused_beside_the_field(app, as_role):
    from program.accounts.models import Department

    client, _ = as_role("admin")
    response = client.post("/admin/departments", data={"name": "Ops\x00", "function": "other"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Remove the control character (such as a NUL byte)" in html
    assert 'value="Ops' in html  # kept as typed
    assert db.session.scalar(select(Department).where(Department.name.like("Ops%"))) is None


def test_a_team_with_an_out_of_range_department_is_refused(app, as_role):
    client, _ = as_role("admin")
    response = client.post("/admin/teams", data={"name": "Squad", "department_id": "2147483648", "manager_id": ""})
    assert response.status_code == 422
    assert "Choose from the list." in response.get_data(as_text=True)


def test_a_201_character_account_name_is_refused_and_kept(app, make, login, now):
    rep = make.user(department="Sales")
    day = (now + timedelta(days=3)).date().isoformat()
    name = "A" * 201
    response = login(rep).post(
        "/ride-alongs/new",
        data={
            "host_id": str(rep.id),
            "account_name": name,
            "segment": "Enterprise",
            "funnel_stage": "Opportunity",
            "call_type": "demo",
            "day": day,
            "start": "10:00",
            "end": "11:00",
            "timezone": "Europe/London",
            "location": "",
            "video_url": "",
            "seats": "2",
            "cutoff_hours": "12",
            "briefing": "",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Keep it to 200 characters." in html and name in html


def test_debrief_answers_are_capped_and_refuse_control_characters(app, make, login):
    from program.debriefs import services as ds

    task = make.attended_task()
    client = login(task.user)
    answers = _debrief_answers(task)
    questions = {q.key: q for q in ds.current_template(task.activity.kind).questions}
    learned, why = questions["learned"], questions["why_buy"]
    code_id = answers[f"q_{why.id}_codes"]
    for field_name, value, message in [
        (f"q_{learned.id}", "Z" * (ds.ANSWER_MAX_CHARS + 1), f"Keep it under {ds.ANSWER_MAX_CHARS:,} characters."),
        (f"q_{learned.id}", "They buy\x00", "Remove the control character"),
        (
            f"q_{why.id}_words_{code_id}",
            "W" * (ds.ANSWER_MAX_CHARS + 1),
            f"words to {ds.ANSWER_MAX_CHARS:,} characters.",
        ),  # (the page escapes the apostrophe)
    ]:
        response = client.post(f"/debriefs/task/{task.id}", data={**answers, field_name: value})
        assert response.status_code == 422, field_name
        assert message in response.get_data(as_text=True)
    other = client.post(
        f"/debriefs/task/{task.id}", data={**answers, f"q_{why.id}_codes": "other", f"q_{why.id}_other": "O" * 301}
    )
    assert other.status_code == 422
    assert "Keep “Unknown / other” to 300 characters." in other.get_data(as_text=True)
    assert task.debrief is None  # nothing was saved


@pytest.mark.parametrize(
    "url",
    [
        "/admin/people?q=%00",
        "/debriefs/status?q=a%00b",
        "/ride-alongs/?segment=%00",
        "/goals/leave?q=%1b",
        "/meetings/?format=x&%00=1",
    ],
)
def test_a_control_character_in_a_list_filter_is_a_bad_request(app, as_role, url):
    """The lists' search boxes and filters are GET forms: a NUL byte in one would reach a query."""
    app.config.update(PROPAGATE_EXCEPTIONS=False)
    client, _ = as_role("admin")
    assert client.get(url).status_code == 400
    assert client.get(url.split("?")[0]).status_code == 200


# --- the fuzz pass ---------------------------------------------------------------------------------

HOSTILE = {
    "nul": "Ops\x00",
    "escape": "red\x1b[31m",
    "int32+1": "2147483648",
    "10**30": str(10**30),
    "1e309": "1e309",
    "nan": "nan",
    **{f"len{n}": "Z" * n for n in (41, 81, 201, 301, 1001, 20_001)},  # just past the common column lengths
}
CONTROL = {"nul", "escape"}


@dataclass
class Post:
    """One form of a route: who posts it, where, and a valid submission to vary one field at a time."""

    who: str
    url: str
    data: dict
    fields: list[str] = field(default_factory=list)  # the fields to vary (default: every key of data)
    strict: bool = True  # False: values that aren't form fields may be ignored (but never answer 500)


def _world(make, now):
    """One of everything a form edits, and the people who may edit it."""
    from program.activities import services as core
    from program.debriefs.defaults import ensure_codebook, ensure_defaults
    from program.debriefs.models import ReasonCode, Tactic
    from program.goals import services as goals
    from program.reviews.funnel import playback as deals
    from program.reviews.funnel import services as funnel_services
    from program.reviews.funnel import teams as mini_teams
    from program.shadow import services as shadow
    from program.shadow.models import FollowUp
    from tests.factories.reviews import DEALS_CSV, make_meeting, save, schedule

    ensure_defaults(now)
    ensure_codebook(now)
    admin = make.user(role="admin", department="Sales", name="Ada Admin")
    make.department("Marketing")
    team = make.team("Enterprise", "Sales")
    rep = make.user(department="Sales", name="Rey Rep", team=team)
    marketer = make.marketer(name="Mo Marketer")
    waiting = make.marketer(name="Wai Ting")
    sales_lead = make.user(role="leader", department="Sales", name="Sal Lead")
    mkt_lead = make.user(role="leader", department="Marketing", name="Mar Lead")
    sales_lead2 = make.user(role="leader", department="Sales", name="Sue Lead")
    mkt_lead2 = make.user(role="leader", department="Marketing", name="Max Lead")

    ride = make.ride_along(host=rep, seats=1)
    core.book_seat(ride.id, marketer, now)
    waitlisted = core.book_seat(ride.id, waiting, now)

    meeting = schedule(admin, people=[rep, marketer])
    lead_session = schedule(admin, fmt="lead_definition", people=[sales_lead, mkt_lead], title="Leads")
    from program.reviews import actions

    action = actions.add_action(
        meeting,
        admin,
        actions.ActionData(title="Send the deck", owner_id=rep.id, due_date=(now + timedelta(days=9)).date()),
        now,
    )

    check = make_meeting(make, now, host=admin, people=[rep, marketer], starts_in=timedelta(days=2))
    save(check, admin)
    mini_teams.form_teams(check, admin, now, seed="fuzz")
    playback = make_meeting(
        make, now, host=admin, people=[rep, marketer], starts_in=timedelta(days=2), title="Playback"
    )
    deals.import_deals(playback, admin, DEALS_CSV, now)
    deal = deals.deals_query(playback.id, deals.DealFilters("", "", "")).limit(1)
    deal_id = db.session.scalar(deal).id
    view = funnel_services.funnel_view(funnel_services.snapshot_for(check.id))
    first_stage = view.transition_stages[0].id
    loss_code = db.session.scalar(select(ReasonCode).where(ReasonCode.category == "loss_reason"))

    day1, day2 = (now + timedelta(days=17)).date(), (now + timedelta(days=18)).date()  # a Thursday and Friday
    accepted = shadow.propose_pairing(admin, sales_lead, mkt_lead, day1, day2, now, "")
    shadow.answer_pairing(accepted, sales_lead, True, "", now)
    shadow.answer_pairing(accepted, mkt_lead, True, "", now)
    pending = shadow.propose_pairing(admin, sales_lead2, mkt_lead2, day1, day2, now, "")
    sales_day = next(d for d in accepted.days if d.host_id == sales_lead.id)
    follow_up = FollowUp(participation_id=sales_day.participations[0].id, user_id=sales_lead.id, kind="shared")
    db.session.add(follow_up)

    goal = goals.save_goal(
        admin,
        goals.GoalData(
            kind="ride_along",
            period="month",
            target=2,
            scope="role",
            role="staff",
            department_id=None,
            team_id=None,
            person_email="",
            requires_debrief=True,
            note="",
        ),
        now,
    )
    task = make.attended_task(rider=marketer)
    tactic_task = make.attended_task(rider=waiting)
    make.submit_debrief(tactic_task, {"tactic": "Webinar series on speed"})
    db.session.flush()
    tactic = db.session.scalar(select(Tactic))
    code = db.session.scalar(select(ReasonCode).order_by(ReasonCode.id))
    db.session.commit()
    return {
        "users": {"admin": admin, "rep": rep, "marketer": marketer, "sales_lead": sales_lead, "mkt_lead2": mkt_lead2},
        "ids": {
            "dept": team.department_id,
            "team": team.id,
            "rep": rep.id,
            "marketer": marketer.id,
            "ride": ride.id,
            "waitlisted": waitlisted.id,
            "meeting": meeting.id,
            "lead_session": lead_session.id,
            "action": action.id,
            "check": check.id,
            "playback": playback.id,
            "deal": deal_id,
            "stage": first_stage,
            "loss_code": loss_code.id,
            "accepted": accepted.id,
            "pending": pending.id,
            "sales_day": sales_day.id,
            "follow_up": follow_up.id,
            "goal": goal.id,
            "task": task.id,
            "tactic": tactic.id,
            "code": code.id,
            "team_in_check": mini_teams.teams_for(check.id)[0].id,
        },
        "task": task,
    }


def _posts(w, now) -> dict[str, list[Post]]:
    i = w["ids"]
    day = (now + timedelta(days=3)).date().isoformat()  # a Thursday
    person = {
        "name": "Pat Doe",
        "email": "pat@example.com",
        "role": "staff",
        "department_id": str(i["dept"]),
        "team_id": str(i["team"]),
        "manager_id": "",
        "timezone": "Europe/London",
        "active": "y",
        "password": "",
    }
    call = {
        "host_id": str(i["rep"]),
        "account_name": "Acme",
        "segment": "Enterprise",
        "funnel_stage": "Opportunity",
        "call_type": "demo",
        "day": day,
        "start": "10:00",
        "end": "11:00",
        "timezone": "Europe/London",
        "location": "1 Market Street",
        "video_url": "",
        "seats": "2",
        "cutoff_hours": "12",
        "briefing": "Listen first.",
        "hide_account": "",
    }
    meeting = {
        "title": "Q4 check",
        "format": "funnel_reality_check",
        "day": day,
        "start": "14:00",
        "end": "15:00",
        "timezone": "Europe/London",
        "location": "Board room",
        "video_url": "",
        "agenda": "Numbers",
    }
    goal = {
        "kind": "ride_along",
        "target": "3",
        "period": "month",
        "scope": "person",
        "role": "",
        "department_id": "",
        "team_id": "",
        "person_email": "",
        "requires_debrief": "y",
        "note": "Q4",
    }
    stages = {
        "period_label": "Q4",
        "avg_deal_value": "24000",
        **{
            f"stages-{n}-{k}": v
            for n, (name, count) in enumerate([("Lead", "100"), ("Won", "10")])
            for k, v in (("name", name), ("entering", count))
        },
    }
    row = {
        "existing": "",
        "position": "1",
        "prompt": "What changed?",
        "qtype": "long_text",
        "key": "changed",
        "help_text": "",
        "required": "",
        "options_text": "",
        "code_category": "",
        "ask_words": "",
        "remove": "",
    }
    template = {"based_on": "1", "note": "Fuzz", **{f"questions-0-{k}": v for k, v in row.items()}}
    funnel_base = f"/meetings/funnel/{i['check']}"
    answers = _debrief_answers(w["task"])
    pairing = f"/shadow-days/{i['accepted']}"
    return {
        "admin-departments": [Post("admin", "/admin/departments", {"name": "Ops", "function": "other"})],
        "admin-teams": [
            Post("admin", "/admin/teams", {"name": "Squad", "department_id": str(i["dept"]), "manager_id": ""})
        ],
        "admin-people": [
            Post("admin", "/admin/people/new", person),
            Post("admin", f"/admin/people/{i['rep']}/edit", {**person, "email": "rey@example.com"}),
        ],
        "rides": [
            Post("admin", "/ride-alongs/new", call),
            Post("admin", f"/ride-alongs/{i['ride']}/edit", call, [k for k in call if k != "host_id"]),
            # An inline form on the ride's page: a refusal is a flashed message and a redirect back to it.
            Post(
                "admin", f"/activities/{i['ride']}/waitlist/{i['waitlisted']}/move-up", {"reason": "VIP"}, strict=False
            ),
        ],
        "meetings": [
            Post("admin", "/meetings/new", {**meeting, "people": str(i["rep"]), "teams": "", "departments": ""}),
            Post("admin", f"/meetings/{i['meeting']}/edit", meeting),
            Post(
                "admin",
                f"/meetings/{i['meeting']}/invite",
                {"people": str(i["marketer"]), "teams": str(i["team"]), "departments": ""},
            ),
            Post("admin", f"/meetings/{i['meeting']}/notes", {"notes": "We agreed."}),
            Post(
                "admin",
                f"/meetings/{i['meeting']}/actions",
                {"title": "Call back", "owner_id": str(i["rep"]), "due_date": day},
            ),
            Post(
                "admin",
                f"/meetings/{i['meeting']}/actions/{i['action']}/edit",
                {"title": "Call back", "owner_id": str(i["rep"]), "due_date": day, "status": "open"},
            ),
            Post(
                "admin",
                f"/meetings/{i['lead_session']}/lead-definitions",
                {"criteria": "Budget, need, timing", "effective_date": day},
            ),
            Post("admin", "/meetings/lead-definition", {"criteria": "Budget, need", "effective_date": day}),
            Post("admin", f"/meetings/{i['meeting']}/cancel", {"reason": "Clash"}),
        ],
        "funnel": [
            Post("admin", f"{funnel_base}/stages", stages),
            Post(
                "admin",
                f"{funnel_base}/reasons",
                {"stage_id": str(i["stage"]), "reason_code_id": str(i["loss_code"]), "count": "3"},
            ),
            Post("admin", f"{funnel_base}/teams", {"seed": "abc"}),
            Post("admin", f"{funnel_base}/teams/swap", {"user_a": str(i["rep"]), "user_b": str(i["marketer"])}),
            Post(
                "admin",
                f"{funnel_base}/ideas",
                {
                    "team_id": str(i["team_in_check"]),
                    "stage_id": str(i["stage"]),
                    "title": "Faster replies",
                    "lift": "2.5",
                    "confidence": "60",
                    "effort": "M",
                },
            ),
            Post(
                "admin",
                f"/meetings/funnel/{i['playback']}/deals",
                {"name": "Globex", "segment": "SMB", "outcome": "won", "lead_source": "Webinar"},
            ),
            Post(
                "rep",
                f"/meetings/funnel/{i['playback']}/deals/{i['deal']}/feedback",
                {"lead_quality": "4", "codes": str(i["loss_code"]), "note": "Good fit"},
            ),
        ],
        "shadow": [
            Post(
                "admin",
                "/shadow-days/new",
                {
                    "sales_leader_id": str(w["users"]["sales_lead"].id),
                    "marketing_leader_id": str(w["users"]["mkt_lead2"].id),
                    "sales_day": (now + timedelta(days=8)).date().isoformat(),
                    "marketing_day": (now + timedelta(days=9)).date().isoformat(),
                    "note": "Hello",
                },
            ),
            Post("mkt_lead2", f"/shadow-days/{i['pending']}/answer", {"answer": "decline", "reason": "Busy"}),
            Post("sales_lead", f"{pairing}/days/{i['sales_day']}/agenda", {"agenda": "Standup, calls"}),
            Post(
                "sales_lead",
                f"{pairing}/days/{i['sales_day']}/date",
                {"new_date": (now + timedelta(days=30)).date().isoformat()},
            ),
            Post(
                "sales_lead",
                f"{pairing}/follow-ups/{i['follow_up']}",
                {
                    f"fu{i['follow_up']}-{k}": v
                    for k, v in {
                        "status": "done",
                        "done_on": now.date().isoformat(),
                        "evidence": "Told the team",
                        "drop_reason": "",
                    }.items()
                },
            ),
            Post("admin", f"{pairing}/cancel", {"reason": "Reorg"}),
        ],
        "goals": [
            Post("admin", "/goals/manage", {**goal, "person_email": "rey@example.com"}),
            Post("admin", f"/goals/{i['goal']}/edit", {**goal, "scope": "role", "role": "staff"}),
            Post(
                "admin",
                "/goals/leave",
                {"person_email": "rey@example.com", "starts_on": day, "ends_on": day, "note": "Holiday"},
            ),
        ],
        "debrief-admin": [
            Post("admin", "/admin/debriefs/templates/ride_along/edit", template),
            Post(
                "admin",
                "/admin/debriefs/codes",
                {"category": "loss_reason", "label": "Too pricey", "description": "Price"},
            ),
            Post("admin", f"/admin/debriefs/codes/{i['code']}/edit", {"label": "Renamed", "description": "Why"}),
            Post(
                "admin",
                f"/tactics/{i['tactic']}",
                {f"t{i['tactic']}-status": "exploring", f"t{i['tactic']}-note": "Try it"},
            ),
        ],
        "debrief-form": [
            Post("marketer", f"/debriefs/task/{i['task']}", answers, [k for k in answers if k != "action"])
        ],  # "action" is the button: save or submit
        "accounts": [
            Post("anonymous", "/login", {"email": "nobody@example.com", "password": "wrong-password-1"}),
            Post("anonymous", "/forgot", {"email": "nobody@example.com"}),
            Post(
                "admin",
                "/account/password",
                {"current_password": "correct-horse-battery", "new_password": "a-new-long-password", "confirm": "x"},
            ),
            Post(
                "admin",
                "/reports/exports",
                {
                    "format": "xlsx",
                    "period": "2026-11",
                    "department": str(i["dept"]),
                    "team": "",
                    "manager": "",
                    "role": "",
                    "status": "",
                },
                strict=False,
            ),  # the report's filters: anything unknown falls back to "all"
        ],
    }


def _debrief_answers(task) -> dict:
    """A valid draft of the task's current template, as the dynamic debrief form posts it."""
    from program.debriefs import services as ds
    from program.debriefs.models import ReasonCode

    data: dict = {"action": "save"}
    for q in ds.current_template(task.activity.kind).questions:
        name = f"q_{q.id}"
        if q.qtype == "reason_codes":
            code = db.session.scalar(select(ReasonCode).where(ReasonCode.category == q.code_category))
            data[f"{name}_codes"] = str(code.id)
            data[f"{name}_other"] = ""
            data[f"{name}_words_{code.id}"] = "Fast"
        elif q.qtype == "rating":
            data[name] = "4"
        else:
            data[name] = "Fine"
    return data


def _fuzz(posts: list[Post], clients) -> tuple[list[str], list[str], int]:
    """Post every hostile value into every field, one at a time. Returns the 500s, the control characters
    that were accepted (anything but a 4xx), and how many posts were made."""
    crashes, accepted = [], []
    count = 0
    for post in posts:
        for name in post.fields or list(post.data):
            for label, value in HOSTILE.items():
                data = {**post.data, name: value}
                count += 1
                where = f"{post.url} {name}={label}"
                try:
                    status = clients[post.who].post(post.url, data=data).status_code
                except Exception as exc:  # noqa: BLE001 — the error page itself failed: a 500 all the same
                    status = 500
                    where += f" ({type(exc).__name__})"
                db.session.rollback()  # a crashed request leaves the test's session in a failed transaction
                if status >= 500:
                    crashes.append(where)
                elif label in CONTROL and status < 400 and post.strict:
                    accepted.append(f"{where} → {status}")
    return crashes, accepted, count


@pytest.mark.parametrize(
    "group",
    [
        "admin-departments",
        "admin-teams",
        "admin-people",
        "rides",
        "meetings",
        "funnel",
        "shadow",
        "goals",
        "debrief-admin",
        "debrief-form",
        "accounts",
    ],
)
def test_hostile_input_never_answers_500(app, make, login, now, group, held_jobs):
    app.config.update(PROPAGATE_EXCEPTIONS=False)
    w = _world(make, now)
    clients = {who: login(user) for who, user in w["users"].items()}
    clients["anonymous"] = app.test_client()
    crashes, accepted, count = _fuzz(_posts(w, now)[group], clients)
    assert not crashes, f"{len(crashes)} of {count} posts answered 500:\n" + "\n".join(crashes)
    assert not accepted, "control characters were accepted:\n" + "\n".join(accepted)


# --- CSV imports ---------------------------------------------------------------------------------

PEOPLE_HEADER = "email,name,department,team,role,manager_email,timezone\r\n"
PEOPLE_ROWS = {  # a bad row, and what the upload or its preview says about it
    "nul in a name": (
        "ana@example.com,Ana\x00Lead,Sales,Enterprise,staff,,Europe/London\r\n",
        "Line 2 contains a control",
    ),
    "nul in a team": ("ana@example.com,Ana Lead,Sales,Ent\x00,staff,,Europe/London\r\n", "Line 2 contains a control"),
    "escape in a name": ("ana@example.com,Ana\x1bLead,Sales,,staff,,Europe/London\r\n", "Line 2 contains a control"),
    "long team": (
        "ana@example.com,Ana Lead,Sales," + "T" * 81 + ",staff,,Europe/London\r\n",
        "team is longer than 80 characters",
    ),
    "long name": (
        "ana@example.com," + "N" * 121 + ",Sales,,staff,,Europe/London\r\n",
        "name is longer than 120 characters",
    ),
    "long email": ("a" * 250 + "@example.com,Ana Lead,Sales,,staff,,Europe/London\r\n", "invalid email"),
    "long timezone": ("ana@example.com,Ana Lead,Sales,,staff,," + "Z" * 65 + "\r\n", "unknown timezone"),
}


def _upload(client, url: str, content: str, name: str = "people.csv", **data):
    return client.post(
        url, data={**data, "file": (io.BytesIO(content.encode("utf-8")), name)}, content_type="multipart/form-data"
    )


@pytest.mark.parametrize("case", list(PEOPLE_ROWS))
def test_people_import_refuses_bad_rows_without_a_500(app, make, login, case):
    from program.accounts.models import PeopleImport, User

    app.config.update(PROPAGATE_EXCEPTIONS=False)
    make.team("Enterprise", "Sales")
    client = login(make.user(role="admin", department="Sales"))
    row, message = PEOPLE_ROWS[case]
    response = _upload(client, "/admin/people/import", PEOPLE_HEADER + row)
    db.session.rollback()
    if message.startswith("Line 2"):  # a control character: refused at the upload, beside the file field
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
        assert db.session.scalar(select(PeopleImport)) is None
        return
    assert response.status_code == 302
    preview = client.get(response.headers["Location"])
    assert preview.status_code == 200 and message in preview.get_data(as_text=True)
    applied = client.post(response.headers["Location"], data={})
    db.session.rollback()
    assert applied.status_code < 500
    assert db.session.scalar(select(User).where(User.name.like("Ana%"))) is None


def test_people_import_keeps_a_long_file_name_shortened(app, make, login):
    from program.accounts.models import PeopleImport

    app.config.update(PROPAGATE_EXCEPTIONS=False)
    client = login(make.user(role="admin", department="Sales"))
    response = _upload(client, "/admin/people/import", PEOPLE_HEADER, name="p" * 300 + ".csv")
    db.session.rollback()
    assert response.status_code == 302
    assert db.session.scalar(select(PeopleImport)).filename == "p" * 255


FUNNEL_FILES = {
    "nul in a stage": "stage,entering\r\nLead\x00,100\r\nWon,10\r\n",
    "escape in a stage": "stage,entering\r\nLe\x1bad,100\r\nWon,10\r\n",
    "long stage": "stage,entering\r\n" + "S" * 61 + ",100\r\nWon,10\r\n",
    "huge count": "stage,entering\r\nLead," + str(10**30) + "\r\nWon,10\r\n",
    "nul in a count": "stage,entering\r\nLead,1\x000\r\nWon,10\r\n",
}
DEAL_FILES = {
    "nul in a name": "deal,segment,outcome,lead_source\r\nAc\x00me,SMB,won,Web\r\n",
    "nul in a segment": "deal,segment,outcome,lead_source\r\nAcme,S\x00MB,won,Web\r\n",
    "escape in a source": "deal,segment,outcome,lead_source\r\nAcme,SMB,won,W\x07eb\r\n",
    "long name": "deal,segment,outcome,lead_source\r\n" + "D" * 201 + ",SMB,won,Web\r\n",
    "long segment": "deal,segment,outcome,lead_source\r\nAcme," + "S" * 61 + ",won,Web\r\n",
    "long source": "deal,segment,outcome,lead_source\r\nAcme,SMB,won," + "W" * 81 + "\r\n",
}


@pytest.fixture
def funnel_meeting(make, now):
    from tests.factories.reviews import make_meeting

    host = make.user(role="leader", department="Marketing")
    meeting = make_meeting(make, now, host=host, starts_in=timedelta(days=2))
    db.session.commit()
    return meeting, host


@pytest.mark.parametrize("case", list(FUNNEL_FILES))
def test_funnel_csv_refuses_bad_lines_without_a_500(app, login, funnel_meeting, case):
    app.config.update(PROPAGATE_EXCEPTIONS=False)
    meeting, host = funnel_meeting
    response = _upload(
        login(host),
        f"/meetings/funnel/{meeting.id}/upload",
        FUNNEL_FILES[case],
        period_label="Q4",
        avg_deal_value="1000",
    )
    db.session.rollback()
    assert response.status_code == 422
    assert "Line 2" in response.get_data(as_text=True)


def test_funnel_upload_refuses_a_non_finite_deal_value(app, login, funnel_meeting):
    app.config.update(PROPAGATE_EXCEPTIONS=False)
    meeting, host = funnel_meeting
    for value in ("1e309", "nan", "inf", str(10**30)):
        response = _upload(
            login(host),
            f"/meetings/funnel/{meeting.id}/upload",
            "stage,entering\r\nA,9\r\nB,3\r\n",
            period_label="Q4",
            avg_deal_value=value,
        )
        db.session.rollback()
        assert response.status_code == 422, value


@pytest.mark.parametrize("case", list(DEAL_FILES))
def test_deals_csv_refuses_bad_lines_without_a_500(app, login, funnel_meeting, case):
    app.config.update(PROPAGATE_EXCEPTIONS=False)
    meeting, host = funnel_meeting
    response = _upload(login(host), f"/meetings/funnel/{meeting.id}/deals/upload", DEAL_FILES[case])
    db.session.rollback()
    assert response.status_code == 422
    assert "Line 2" in response.get_data(as_text=True)
