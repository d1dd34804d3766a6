"""Learnings feed, tactics triage and the reason-code insight: pages, roles, rules, numbers, exports."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from program import charts
from program.debriefs.models import Answer, DebriefQuestion, LearningUseful, Tactic, TacticStatus
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.insight import learnings, reason_codes, tactics
from program.spreadsheet import neutralise
from tests.factories.debriefs import shadow_day_task

HYPERLINK = '=HYPERLINK("http://evil.example/x","click")'


# --- helpers ---------------------------------------------------------------------------------


def learned(make, text: str, *, rider=None, at=None, ride=None, **ride_kw):
    """A submitted ride-along debrief whose "What did you learn?" is ``text``; returns the debrief."""
    task = make.attended_task(rider, ride, **ride_kw)
    return make.submit_debrief(task, {"learned": text}, at=at)


def answer_id(debrief, key: str = "learned") -> int:
    return next(a.id for a in debrief.answers if a.question.key == key)


def shadow_day_learning(make, text: str, *, at, rider=None):
    """A submitted debrief on a shadow day (a kind with no ride-along detail), built by hand."""
    host = make.user(department="Sales")
    rider = rider or make.marketer()
    task = shadow_day_task(
        rider,
        host,
        start=at - timedelta(days=1),
        due_at=at + timedelta(days=7),
        created_at=at,
        title="Shadow day with Sales",
    )
    return make.submit_debrief(
        task, {"learned": text, "surprised": "Many things.", "team_change": "Share more."}, at=at
    )


def row_of(html: str, anchor: str) -> str:
    """The <tr id=anchor> ... </tr> of a page."""
    match = re.search(rf'<tr id="{anchor}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row {anchor}"
    return match.group(1)


# --- learnings feed --------------------------------------------------------------------------


def test_feed_shows_submitted_learnings_newest_first_to_any_staff(login, make, now):
    older = learned(
        make,
        "Prospects care about onboarding speed.",
        rider=make.marketer(name="Ada Rider"),
        at=now - timedelta(hours=5),
        account="Northwind",
    )
    newer = learned(make, "Finance wants ROI numbers\nin the first call.", at=now - timedelta(hours=1))
    draft_task = make.attended_task()
    make.submit_debrief(draft_task, {"learned": "Draft secret"}, submit=False)
    viewer = make.user(role="staff", department="Sales")
    html = login(viewer).get("/learnings").get_data(as_text=True)
    assert "Draft secret" not in html
    assert html.index("Finance wants ROI numbers") < html.index("Prospects care about onboarding speed.")
    assert "numbers<br>in the first call" in html  # line breaks kept, text escaped
    row = row_of(html, f"learning-{answer_id(older)}")
    assert "Ada Rider" in row and "Marketing" in row
    activity_id = older.task.activity_id
    assert f'href="/ride-alongs/{activity_id}"' in row and "Demo with Northwind" in row
    assert "23 Nov 2026" in row
    assert f"learning-{answer_id(newer)}" in html
    assert "2 in all" in html


def test_hidden_account_name_stays_hidden_in_the_feed(login, make, now):
    rider = make.marketer()
    debrief = learned(
        make, "Banks buy on audit trails.", rider=rider, account="Secret Bank", hide_account=True, segment="Enterprise"
    )
    outsider = login(make.user(department="Sales")).get("/learnings").get_data(as_text=True)
    assert "Secret Bank" not in outsider and "an Enterprise prospect" in outsider
    assert "Banks buy on audit trails." in outsider
    assert "Secret Bank" in login(rider).get("/learnings").get_data(as_text=True)  # the rider had a seat
    assert debrief.is_submitted


def test_search_is_case_insensitive_literal_and_every_word(login, make, now):
    a = learned(make, "Pricing pages confuse SMB buyers.", segment="SMB")
    b = learned(make, "Enterprise buyers ask for SSO first.", segment="Enterprise")
    c = shadow_day_learning(make, "Only 10% of leads_reach sales.", at=now - timedelta(hours=2))
    client = login(make.user(role="leader"))  # shadow-day learnings are shared with leaders (issue 10, 13)

    def ids(query: str) -> set[int]:
        html = client.get(f"/learnings?{query}").get_data(as_text=True)
        return {int(n) for n in re.findall(r'<tr id="learning-(\d+)"', html)}

    A, B, C = answer_id(a), answer_id(b), answer_id(c)
    assert ids("") == {A, B, C}
    assert ids("q=PRICING") == {A}
    assert ids("q=buyers+smb") == {A}  # every word must appear, in any order
    assert ids("q=buyers") == {A, B}
    assert ids("q=%25") == {C}  # % is literal, not "anything"
    assert ids("q=o_l") == set()  # _ is literal, not "any one character" (which would find "Onl"y)
    assert ids("q=leads_reach") == {C}
    assert ids("q=nothing+like+this") == set()


def test_filters_kind_segment_department(login, make, now):
    smb = learned(make, "SMB learning", segment="SMB", rider=make.user(department="Product"))
    ent = learned(make, "Enterprise learning", segment="Enterprise")
    shadow = shadow_day_learning(make, "Shadow learning", at=now - timedelta(hours=2))
    client = login(make.user(role="leader"))  # shadow-day learnings are shared with leaders (issue 10, 13)
    product = smb.author.department_id

    def texts(query: str) -> set[str]:
        html = client.get(f"/learnings?{query}").get_data(as_text=True)
        return {t for t in ("SMB learning", "Enterprise learning", "Shadow learning") if t in html}

    assert texts("") == {"SMB learning", "Enterprise learning", "Shadow learning"}  # outer join: no call needed
    assert texts("kind=shadow_day") == {"Shadow learning"}
    assert texts("kind=ride_along") == {"SMB learning", "Enterprise learning"}
    assert texts("segment=SMB") == {"SMB learning"}
    assert texts(f"department={product}") == {"SMB learning"}
    assert texts(f"department={ent.author.department_id}") == {"Enterprise learning", "Shadow learning"}
    assert texts("kind=bogus&department=abc&from=not-a-date") == {
        "SMB learning",
        "Enterprise learning",
        "Shadow learning",
    }
    assert "Shadow day with Sales" in client.get("/learnings?kind=shadow_day").get_data(as_text=True)
    assert shadow.is_submitted


def test_date_range_is_read_in_the_viewers_timezone(login, make):
    # 03:00 UTC on 21 Nov is still 20 Nov (22:00) in New York.
    learned(make, "Late-night learning", at=datetime(2026, 11, 21, 3, 0, tzinfo=UTC))
    london = login(make.user(timezone="Europe/London"))
    new_york = login(make.user(timezone="America/New_York"))
    query = "/learnings?from=2026-11-20&to=2026-11-20"
    assert "Late-night learning" not in london.get(query).get_data(as_text=True)
    assert "Late-night learning" in new_york.get(query).get_data(as_text=True)
    assert "Late-night learning" in london.get("/learnings?from=2026-11-21&to=2026-11-21").get_data(as_text=True)


def test_search_finds_words_their_beginnings_and_terms_as_typed(login, make, now):
    """The same learnings on both databases: whole words and word beginnings in any case; a term with
    punctuation in it matched as typed; every term must appear."""
    a = learned(make, "Onboarding takes 3.5 weeks; the e-mail sequence confuses buyers.")
    b = learned(make, "Email is where onboarding questions land.", at=now - timedelta(hours=1))
    client = login(make.user())

    def ids(query: str) -> set[int]:
        html = client.get(f"/learnings?{query}").get_data(as_text=True)
        return {int(n) for n in re.findall(r'<tr id="learning-(\d+)"', html)}

    A, B = answer_id(a), answer_id(b)
    assert ids("q=onboard") == {A, B}  # a word's beginning
    assert ids("q=ONBOARDING+weeks") == {A}
    assert ids("q=e-mail") == {A}  # as typed: "Email" is not "e-mail"
    assert ids("q=email") == {B}
    assert ids("q=3.5") == {A}
    assert ids("q=3.6") == set()
    assert ids("q=onboard+nothing") == set()


def test_an_edited_answer_is_found_by_its_new_words(login, make, now):
    """On PostgreSQL the search reads a column the database keeps in step with the text (a trigger)."""
    debrief = learned(make, "Procurement stalls deals.")
    answer = db.session.get(Answer, answer_id(debrief))
    client = login(make.user())
    assert f"learning-{answer.id}" in client.get("/learnings?q=procurement").get_data(as_text=True)
    answer.text = "Legal review stalls deals."
    db.session.commit()
    assert f"learning-{answer.id}" not in client.get("/learnings?q=procurement").get_data(as_text=True)
    assert f"learning-{answer.id}" in client.get("/learnings?q=legal").get_data(as_text=True)


def test_a_long_feed_is_counted_up_to_a_thousand(login, make, now, monkeypatch):
    monkeypatch.setattr(learnings, "COUNT_CAP", 4)
    for n in range(6):
        learned(make, f"Learning number {n}.", at=now - timedelta(minutes=n))
    client = login(make.user())
    first = client.get("/learnings?per_page=5").get_data(as_text=True)
    assert "Page 1 · more than 4 in all" in first and 'rel="next"' in first
    second = client.get("/learnings?per_page=5&page=2").get_data(as_text=True)
    assert second.count('<tr id="learning-') == 1 and 'rel="next"' not in second and 'rel="prev"' in second
    assert "1 in all" in client.get("/learnings?q=5&per_page=5").get_data(as_text=True)  # under the cap: exact


def test_feed_is_paginated(login, make, now):
    for n in range(7):
        learned(make, f"Learning number {n}.", at=now - timedelta(minutes=n))
    client = login(make.user())
    first = client.get("/learnings?per_page=5").get_data(as_text=True)
    second = client.get("/learnings?per_page=5&page=2").get_data(as_text=True)
    assert first.count('<tr id="learning-') == 5 and second.count('<tr id="learning-') == 2
    assert "Learning number 0." in first and "Learning number 6." in second
    assert "Page 2 of 2 · 7 in all" in second
    assert client.get("/learnings?page=99").status_code == 200


def test_useful_marks_and_unmarks_and_returns_to_the_same_page(login, make, now):
    debrief = learned(make, "Speed sells.")
    aid = answer_id(debrief)
    me, other = make.user(), make.user()
    client = login(me)
    back = {"q": "speed", "segment": "Enterprise", "page": "1", "evil": "https://elsewhere.example"}
    r = client.post(f"/learnings/{aid}/useful", data={"useful": "1", **back})
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith("/learnings?") and "q=speed" in location and "segment=Enterprise" in location
    assert "elsewhere" not in location and location.endswith(f"#learning-{aid}")
    client.post(f"/learnings/{aid}/useful", data={"useful": "1"})  # a double click is still one mark
    login(other).post(f"/learnings/{aid}/useful", data={"useful": "1"})
    assert db.session.scalar(db.select(db.func.count(LearningUseful.id))) == 2
    row = row_of(client.get("/learnings").get_data(as_text=True), f"learning-{aid}")
    assert "Useful (2)" in row and 'aria-pressed="true"' in row and 'name="useful" value="0"' in row
    client.post(f"/learnings/{aid}/useful", data={"useful": "0"})
    row = row_of(client.get("/learnings").get_data(as_text=True), f"learning-{aid}")
    assert "Useful (1)" in row and 'aria-pressed="false"' in row
    assert db.session.scalar(db.select(LearningUseful.user_id)) == other.id


def test_useful_refuses_what_is_not_a_learning(login, make):
    task = make.attended_task()
    draft = make.submit_debrief(task, {"learned": "Not yet"}, submit=False)
    done = learned(make, "Done", **{})
    client = login(make.user())
    assert client.post(f"/learnings/{answer_id(draft)}/useful", data={"useful": "1"}).status_code == 404
    assert client.post(f"/learnings/{answer_id(done, 'lead_quality')}/useful", data={"useful": "1"}).status_code == 404
    assert client.post("/learnings/999999/useful", data={"useful": "1"}).status_code == 404
    assert client.post(f"/learnings/{answer_id(done)}/useful", data={"useful": "maybe"}).status_code == 400
    assert client.get(f"/learnings/{answer_id(done)}/useful").status_code == 405
    assert db.session.scalar(db.select(db.func.count(LearningUseful.id))) == 0


def test_useful_needs_a_csrf_token_and_a_sign_in(app, login, client, make):
    aid = answer_id(learned(make, "Tokens matter."))
    signed_in = login(make.user())
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert signed_in.post(f"/learnings/{aid}/useful", data={"useful": "1"}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    r = client.post(f"/learnings/{aid}/useful", data={"useful": "1"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/learnings").status_code == 302


def test_feed_query_count_does_not_grow(login, make, now, count_queries):
    viewer = make.user()
    client = login(viewer)
    for n in range(2):
        d = learned(make, f"First batch {n}", hide_account=True, segment="SMB")
        db.session.add(LearningUseful(answer_id=answer_id(d), user_id=viewer.id, created_at=now))
    db.session.commit()
    with count_queries() as few:
        assert client.get("/learnings").status_code == 200
    for n in range(8):
        d = learned(make, f"Second batch {n}", hide_account=n % 2 == 0, rider=make.user(department=f"Dept {n}"))
        db.session.add(LearningUseful(answer_id=answer_id(d), user_id=make.user().id, created_at=now))
    db.session.commit()
    with count_queries() as many:
        html = client.get("/learnings").get_data(as_text=True)
    assert html.count('<tr id="learning-') == 10
    assert many.count == few.count


# --- tactics triage --------------------------------------------------------------------------


@pytest.fixture
def tactic(make, now):
    rider = make.marketer(name="Rita Rider")
    rep = make.user(department="Sales", name="Reggie Rep")
    ride = make.ride_along(rep, starts_in=timedelta(hours=-3))
    task = make.attended_task(rider, ride)
    make.submit_debrief(task, {"tactic": "Run a webinar on onboarding speed."})
    return db.session.scalar(db.select(Tactic))


@pytest.mark.parametrize(
    ("role", "department", "status"),
    [
        ("leader", "Marketing", 200),
        ("admin", "Sales", 200),
        ("leader", "Sales", 404),
        ("staff", "Marketing", 404),
        ("hr", "People", 404),
    ],
)
def test_tactics_role_matrix(as_role, tactic, role, department, status):
    client, _ = as_role(role, department)
    assert client.get("/tactics").status_code == status
    r = client.post(f"/tactics/{tactic.id}", data={f"t{tactic.id}-status": "exploring", f"t{tactic.id}-note": ""})
    assert r.status_code == (302 if status == 200 else 404)
    db.session.expire_all()
    assert db.session.get(Tactic, tactic.id).status == ("exploring" if status == 200 else "new")


def test_tactics_list_credits_rider_and_rep(as_role, tactic):
    client, _ = as_role("leader", "Marketing")
    html = client.get("/tactics").get_data(as_text=True)
    row = row_of(html, f"tactic-{tactic.id}")
    assert "Run a webinar on onboarding speed." in row
    assert "Rider: Rita Rider" in row and "Rep: Reggie Rep" in row
    assert f'href="/ride-alongs/{tactic.answer.debrief.task.activity_id}"' in row
    assert "New" in row
    assert client.get("/tactics?status=launched").get_data(as_text=True).count('<tr id="tactic-') == 0
    assert client.get("/tactics?status=new").get_data(as_text=True).count('<tr id="tactic-') == 1


def test_update_tactic_rules(make, tactic, now):
    leader = make.user(role="leader", department="Marketing", name="Mia Marketing")
    with pytest.raises(NotAllowed):
        tactics.update_tactic(make.user(role="leader", department="Sales"), tactic, "exploring", "", now)
    tactics.update_tactic(leader, tactic, "exploring", "", now)  # no note needed to start exploring
    assert tactic.status == "exploring" and tactic.updated_by == leader and tactic.updated_at == now
    for status in ("launched", "not_pursued"):
        with pytest.raises(ValidationFailed) as info:
            tactics.update_tactic(leader, tactic, status, "   ", now)
        assert info.value.field == "note"
    with pytest.raises(ValidationFailed) as info:
        tactics.update_tactic(leader, tactic, "new", "reset", now)
    assert info.value.field == "status"
    with pytest.raises(ValidationFailed):
        tactics.update_tactic(leader, tactic, "done", "x", now)
    assert tactic.status == "exploring"
    tactics.update_tactic(leader, tactic, "not_pursued", " Too niche for a programme. ", now)
    assert tactic.status == "not_pursued" and tactic.note == "Too niche for a programme."
    tactics.update_tactic(leader, tactic, "launched", "Reopened: Q1 webinar series.", now)  # decisions can be revisited
    assert tactic.status == TacticStatus.LAUNCHED.value


def test_note_is_required_beside_the_field_and_typed_text_is_kept(as_role, tactic):
    client, leader = as_role("leader", "Marketing")
    prefix = f"t{tactic.id}"
    r = client.post(f"/tactics/{tactic.id}?status=new", data={f"{prefix}-status": "not_pursued", f"{prefix}-note": ""})
    assert r.status_code == 422
    row = row_of(r.get_data(as_text=True), f"tactic-{tactic.id}")
    assert f'id="{prefix}-note-error"' in row and "why it is not pursued" in row
    assert '<option selected value="not_pursued">' in row or 'value="not_pursued" selected' in row
    long_note = "Typed carefully. " * 70  # over 1,000 characters
    r = client.post(f"/tactics/{tactic.id}", data={f"{prefix}-status": "launched", f"{prefix}-note": long_note})
    assert r.status_code == 422
    row = row_of(r.get_data(as_text=True), f"tactic-{tactic.id}")
    assert "under 1,000 characters" in row and long_note.strip() in row
    db.session.expire_all()
    assert db.session.get(Tactic, tactic.id).status == "new"
    r = client.post(
        f"/tactics/{tactic.id}?status=new&page=1",
        data={f"{prefix}-status": "launched", f"{prefix}-note": "Webinar series in Q1."},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/tactics?status=new&page=1#tactic-{tactic.id}")
    row = row_of(client.get("/tactics").get_data(as_text=True), f"tactic-{tactic.id}")
    assert "Programme launched" in row and "Webinar series in Q1." in row and f"Updated by {leader.name}" in row


def test_tactic_form_carries_a_working_csrf_token(app, as_role, tactic):
    client, _ = as_role("leader", "Marketing")
    prefix = f"t{tactic.id}"
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        html = client.get("/tactics").get_data(as_text=True)
        token = re.search(rf'name="{prefix}-csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        data = {f"{prefix}-status": "exploring", f"{prefix}-note": ""}
        assert client.post(f"/tactics/{tactic.id}", data=data).status_code == 400
        assert client.post(f"/tactics/{tactic.id}", data={**data, f"{prefix}-csrf_token": token}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.expire_all()
    assert db.session.get(Tactic, tactic.id).status == "exploring"


def test_unknown_tactic_is_404(as_role):
    client, _ = as_role("admin")
    assert client.post("/tactics/999999", data={"t999999-status": "exploring"}).status_code == 404


# --- insight ---------------------------------------------------------------------------------


@pytest.fixture
def coded(make, now):
    """Three submitted debriefs over two segments (and a draft that must not count).

    why_buy:     D1 SMB/SQL "Saves time" · D2 SMB/Opportunity "Cost saving" · D3 Enterprise/SQL "Saves time"
    objections:  D1 "Price" ("too pricey") + "other" (HYPERLINK) · D2 "Price" · D3 "Timing" ("next year")
    D3's call was ten days ago; the others three hours ago.
    """
    d1 = make.submit_debrief(
        make.attended_task(segment="SMB", stage="SQL"),
        {"why_buy": [("Saves time", "")], "objections": [("Price", "too pricey"), ("other", HYPERLINK)]},
        at=now - timedelta(hours=2),
    )
    d2 = make.submit_debrief(
        make.attended_task(segment="SMB", stage="Opportunity"),
        {"why_buy": [("Cost saving", "")], "objections": [("Price", "")]},
        at=now - timedelta(hours=1),
    )
    old_ride = make.ride_along(starts_in=timedelta(days=-10), segment="Enterprise", stage="SQL")
    d3 = make.submit_debrief(
        make.attended_task(ride=old_ride),
        {"why_buy": [("Saves time", "")], "objections": [("Timing", "next year")]},
        at=now - timedelta(days=9),
    )
    make.submit_debrief(
        make.attended_task(segment="SMB", stage="SQL"),
        {"why_buy": [("Cost saving", "")], "objections": [("Price", "draft words")]},
        submit=False,
    )
    db.session.commit()
    return d1, d2, d3


def table(report, category: str):
    return next(t for t in report.categories if t.category == category)


def cells(t, label: str):
    r = next(r for r in t.rows if r.label == label)
    return [(c.count, c.percent) for c in r.cells] + [(r.all.count, r.all.percent)]


def test_counts_and_shares_by_segment(coded):
    report = reason_codes.insight_report(reason_codes.InsightFilters(group_by="segment"))
    assert [c.label for c in report.columns] == ["Enterprise", "SMB"]
    assert report.debriefs == 3
    objections = table(report, "objection")
    assert objections.column_totals == [1, 3] and objections.total == 4
    assert cells(objections, "Price") == [(0, "0.0"), (2, "66.7"), (2, "50.0")]
    assert cells(objections, "Timing") == [(1, "100.0"), (0, "0.0"), (1, "25.0")]
    assert cells(objections, "Unknown / other") == [(0, "0.0"), (1, "33.3"), (1, "25.0")]
    assert cells(objections, "Missing feature") == [(0, "0.0"), (0, "0.0"), (0, "0.0")]
    assert objections.rows[-1].label == "Unknown / other"
    why = table(report, "why_buy")
    assert cells(why, "Saves time") == [(1, "100.0"), (1, "50.0"), (2, "66.7")]
    assert cells(why, "Cost saving") == [(0, "0.0"), (1, "50.0"), (1, "33.3")]
    assert table(report, "loss_reason").total == 0


def test_group_by_stage_and_kind_and_filters(coded, now):
    by_stage = reason_codes.insight_report(reason_codes.InsightFilters(group_by="stage"))
    assert [c.label for c in by_stage.columns] == ["SQL", "Opportunity"]
    objections = table(by_stage, "objection")
    assert cells(objections, "Price") == [(1, "33.3"), (1, "100.0"), (2, "50.0")]
    assert cells(objections, "Timing") == [(1, "33.3"), (0, "0.0"), (1, "25.0")]
    by_kind = reason_codes.insight_report(reason_codes.InsightFilters(group_by="kind"))
    assert [c.label for c in by_kind.columns] == ["Ride-along"]
    smb = reason_codes.insight_report(reason_codes.InsightFilters(segment="SMB", stage="SQL"))
    assert smb.debriefs == 1 and cells(table(smb, "objection"), "Price") == [(1, "50.0"), (1, "50.0")]
    recent = reason_codes.insight_report(
        reason_codes.InsightFilters(day_from=(now - timedelta(days=3)).date(), tz="Europe/London")
    )
    assert recent.debriefs == 2 and [c.label for c in recent.columns] == ["SMB"]
    old = reason_codes.insight_report(
        reason_codes.InsightFilters(day_to=(now - timedelta(days=10)).date(), tz="Europe/London")
    )
    assert old.debriefs == 1 and [c.label for c in old.columns] == ["Enterprise"]
    none = reason_codes.insight_report(reason_codes.InsightFilters(kind="shadow_day"))
    assert none.debriefs == 0 and all(t.total == 0 for t in none.categories)


def test_recent_customer_words_are_quoted_drafts_are_not(coded, make, now):
    # A fourth Price quote, newest: only the three most recent show.
    for n, words in enumerate(["first", "second", "third"]):
        make.submit_debrief(
            make.attended_task(segment="SMB"),
            {"objections": [("Price", f"{words} quote")]},
            at=now + timedelta(minutes=n + 1),
        )
    report = reason_codes.insight_report(reason_codes.InsightFilters())
    objections = table(report, "objection")
    price = next(r for r in objections.rows if r.label == "Price")
    assert price.quotes == ["third quote", "second quote", "first quote"]
    other = objections.rows[-1]
    assert other.is_other and other.quotes == [HYPERLINK] and other.described == [HYPERLINK]
    assert next(r for r in objections.rows if r.label == "Timing").quotes == ["next year"]


@pytest.mark.parametrize(("role", "status"), [("leader", 200), ("hr", 200), ("admin", 200), ("staff", 404)])
def test_insight_role_matrix(as_role, coded, role, status):
    client, _ = as_role(role)
    assert client.get("/insight").status_code == status
    assert client.get("/insight.csv").status_code == status


def test_insight_page_shows_table_quotes_and_charts(as_role, coded):
    client, _ = as_role("leader", "Marketing")
    html = client.get("/insight?group_by=segment").get_data(as_text=True)
    assert "3 submitted debriefs match these filters." in html
    assert "66.7%" in html and "33.3%" in html and "100.0%" in html
    assert "<q>too pricey</q>" in html and "<q>next year</q>" in html and "draft words" not in html
    assert "Unknown / other" in html and "Described as:" in html
    assert html.count("<svg") == 2  # why they buy, objections; nothing for empty categories
    assert "Why the customer buys" in html and "Objection heard" in html
    assert "HYPERLINK(&#34;http://evil.example" in html or "HYPERLINK(&quot;http://evil.example" in html
    assert "<script" not in html and 'style="' not in html
    stage = client.get("/insight?group_by=stage&segment=SMB").get_data(as_text=True)
    assert 'value="stage" selected' in stage and "Opportunity" in stage and "2 submitted debriefs" in stage
    # the last 90 days unless dates are given: the form and the CSV link say so
    assert 'name="from" type="date" value="2026-08-25"' in stage
    assert 'href="/insight.csv?segment=SMB&amp;from=2026-08-25&amp;group_by=stage"' in stage


def test_insight_covers_ninety_days_unless_asked_for_all_time(as_role, coded, make, now):
    long_ago = make.ride_along(
        starts_in=timedelta(days=10), now=now - timedelta(days=130), segment="Enterprise", stage="SQL"
    )
    make.submit_debrief(
        make.attended_task(ride=long_ago), {"why_buy": [("Saves time", "")]}, at=now - timedelta(days=118)
    )
    db.session.commit()
    client, _ = as_role("hr")
    assert "3 submitted debriefs match" in client.get("/insight").get_data(as_text=True)
    all_time = client.get("/insight?from=&to=").get_data(as_text=True)
    assert "4 submitted debriefs match" in all_time
    assert 'href="/insight.csv?from="' in all_time  # the CSV is all time too
    rows = list(csv.reader(io.StringIO(client.get("/insight.csv?from=").data.decode("utf-8"))))
    saves_time = next(row for row in rows if row[1] == "Saves time")
    assert saves_time[rows[0].index("All (count)")] == "3"  # D1, D3 and the old one
    assert "4 submitted debriefs match" in client.get("/insight?to=2026-11-23").get_data(as_text=True)  # a date given


def test_csv_reads_back_with_the_same_numbers_and_no_formulas(as_role, coded):
    client, _ = as_role("hr")
    r = client.get("/insight.csv?group_by=segment")
    assert r.status_code == 200 and r.content_type == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8"))))
    assert rows[0] == [
        "Category",
        "Reason code",
        "Enterprise (count)",
        "Enterprise (%)",
        "SMB (count)",
        "SMB (%)",
        "All (count)",
        "All (%)",
        "Recent customer words",
        "Described as",
    ]
    by_code = {(row[0], row[1]): row[2:] for row in rows[1:]}
    assert by_code[("Objection heard", "Price")] == ["0", "0.0", "2", "66.7", "2", "50.0", "too pricey", ""]
    assert by_code[("Objection heard", "Timing")] == ["1", "100.0", "0", "0.0", "1", "25.0", "next year", ""]
    other = by_code[("Objection heard", "Unknown / other")]
    assert other[:6] == ["0", "0.0", "1", "33.3", "1", "25.0"]
    assert other[6] == "'" + HYPERLINK and other[7] == "'" + HYPERLINK
    assert by_code[("Why the customer buys", "Saves time")][:6] == ["1", "100.0", "1", "50.0", "2", "66.7"]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
    filtered = list(csv.reader(io.StringIO(client.get("/insight.csv?segment=Enterprise").data.decode("utf-8"))))
    assert filtered[0][2:4] == ["Enterprise (count)", "Enterprise (%)"] and len(filtered[0]) == 8


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        (HYPERLINK, "'" + HYPERLINK),
        ("Price", "Price"),
        ("", ""),
        ("a=b", "a=b"),
        (3, 3),
        ("66.7", "66.7"),
    ],
)
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected


def test_bar_chart_is_accessible_self_contained_svg():
    svg = str(
        charts.bar_chart(
            "Objections <heard>", [("Price", 2), ("Timing & co", 1), ("Unknown / other", 0)], chart_id="c1"
        )
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Objections &lt;heard&gt;</title>' in svg
    assert "Price: 2; Timing &amp; co: 1; Unknown / other: 0" in svg
    assert ">Price</text>" in svg and ">Timing &amp; co</text>" in svg and ">Unknown / other</text>" in svg
    assert 'font-family="' in svg and "style=" not in svg and "<script" not in svg and "href" not in svg
    widths = [float(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="([\d.]+)" height="20" fill="#2456a6"', svg)]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    empty = str(charts.bar_chart("Nothing", []))
    assert "<svg" in empty and "No data." in empty


def test_insight_query_count_does_not_grow(as_role, make, coded, now, count_queries):
    client, _ = as_role("leader")
    db.session.commit()  # like the second measurement: the signed-in user is reloaded after a commit
    with count_queries() as few:
        assert client.get("/insight").status_code == 200
    for n in range(6):
        make.submit_debrief(
            make.attended_task(segment=["SMB", "Mid-Market", "Public Sector"][n % 3], stage="Lead"),
            {
                "why_buy": [("Reduces risk", f"words {n}")],
                "objections": [("Missing feature", f"need {n}"), ("other", f"o{n}")],
            },
        )
    db.session.commit()
    with count_queries() as many:
        assert "Mid-Market" in client.get("/insight").get_data(as_text=True)
    assert many.count == few.count


def test_learned_answers_come_from_the_learned_key_only(make, now):
    """The feed reads the question keyed "learned", whatever its prompt says."""
    d = learned(make, "Keyed right.")
    keys = {a.question.key for a in d.answers}
    assert "learned" in keys
    stmt = learnings.learnings_query(learnings.LearningFilters())
    found = db.session.scalars(stmt).unique().all()
    assert [a.id for a in found] == [answer_id(d)]
    assert db.session.get(DebriefQuestion, db.session.get(Answer, found[0].id).question_id).key == "learned"
