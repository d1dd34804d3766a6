"""Who reads a debrief's answers outside the debrief itself: the learnings feed (and its search), the
tactics triage and the reason-code insight (page and CSV).

Rules (issue 10, defect 13): only answers to questions flagged "shared in the learnings feed" are shown;
a writer can keep one debrief out of the feed; shadow-day debriefs are shared with leaders, HR and admins
only unless the writer ticks "Share with everyone"; the form says all this before anyone submits.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from program.debriefs.defaults import ensure_defaults
from program.debriefs.models import Debrief, DebriefTemplate, ReasonCode, Tactic
from program.debriefs.services import current_template
from program.extensions import db
from tests.conftest import TEST_DATABASE_URL, make_app
from tests.factories.debriefs import page_form, row_of, shadow_day_task

SHARED_NOTE = "Shared with everyone in the learnings feed"
LEADERS_NOTE = "Shared in the learnings feed with leaders, HR and admins"


# --- helpers ---------------------------------------------------------------------------------


def shadow_task(make, author, *, now):
    """An attended shadow day for ``author`` (hosted by a marketer) and the debrief task it owes."""
    ensure_defaults(now)
    host = make.marketer(name="Hana Host")
    task = shadow_day_task(
        author,
        host,
        start=now - timedelta(days=2),
        due_at=now + timedelta(days=5),
        created_at=now,
        title="Shadow day with Marketing",
    )
    db.session.commit()
    return task


def post_debrief(client, task, answers: dict[str, str], **extra):
    """Submit the task's form as the author's browser would: answers by question key, plus extra fields."""
    questions = {q.key: q for q in current_template(task.activity.kind).questions}
    data = {f"q_{questions[key].id}": value for key, value in answers.items()}
    resp = client.post(f"/debriefs/task/{task.id}", data={**data, **extra, "action": "submit"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    db.session.expire_all()
    return db.session.scalar(db.select(Debrief).where(Debrief.task_id == task.id))


SHADOW_ANSWERS = {
    "learned": "Marketing plans campaigns a quarter ahead of our pipeline reviews.",
    "surprised": "How many leads never get a call.",
    "team_change": "Invite marketing to pipeline reviews.",
}


def feed(client, query: str = "") -> str:
    return client.get(f"/learnings{query}").get_data(as_text=True)


def ride_form_values(make, client, task, **answers):
    """A complete ride-along debrief (required answers given) plus ``answers`` by key."""
    questions = {q.key: q for q in current_template("ride_along").questions}
    data = {
        f"q_{questions['why_buy'].id}_codes": "other",
        f"q_{questions['why_buy'].id}_other": "Board pressure",
        f"q_{questions['lead_quality'].id}": "4",
    }
    for key, value in answers.items():
        data[f"q_{questions[key].id}"] = value
    return data


# --- shadow days: leaders only unless the writer opts in ------------------------------------


def test_staff_do_not_see_a_sales_leaders_shadow_day_learning_leaders_do(make, login, now):
    author = make.user(role="leader", department="Sales", name="Sam Sales-Leader")
    task = shadow_task(make, author, now=now)
    debrief = post_debrief(login(author), task, SHADOW_ANSWERS)
    learning = SHADOW_ANSWERS["learned"]
    answer = next(a for a in debrief.answers if a.question.key == "learned")

    staff = login(make.user(role="staff", department="Sales"))
    assert learning not in feed(staff)
    assert learning not in feed(staff, "?q=quarter+pipeline")  # the search finds nothing either
    assert "Sam Sales-Leader" not in feed(staff, "?kind=shadow_day")
    assert staff.post(f"/learnings/{answer.id}/useful", data={"useful": "1"}).status_code == 404
    assert staff.get(f"/debriefs/task/{task.id}").status_code == 404  # as before: the debrief is not theirs

    for role, department in (("leader", "Marketing"), ("hr", "People"), ("admin", None)):
        html = feed(login(make.user(role=role, department=department)), "?q=quarter+pipeline")
        assert learning in html and "Sam Sales-Leader" in html, role
    assert debrief.is_submitted and not debrief.share_with_everyone
    # Only the flagged question is in the feed, even for leaders.
    assert SHADOW_ANSWERS["surprised"] not in feed(login(make.user(role="leader")))


def test_share_with_everyone_opts_a_shadow_day_debrief_in(make, login, now):
    author = make.user(role="leader", department="Sales")
    task = shadow_task(make, author, now=now)
    client = login(author)
    form = client.get(f"/debriefs/task/{task.id}").get_data(as_text=True)
    assert 'name="share_with_everyone"' in form and "Share with everyone" in form
    debrief = post_debrief(client, task, SHADOW_ANSWERS, share_with_everyone="1")
    assert debrief.share_with_everyone
    staff = login(make.user(role="staff", department="Product"))
    assert SHADOW_ANSWERS["learned"] in feed(staff)
    # The form shows the choice it was saved with (the 48-hour edit window is still open).
    assert re.search(
        r'name="share_with_everyone"[^>]*checked', client.get(f"/debriefs/task/{task.id}").get_data(as_text=True)
    )
    # Unticking it while the debrief can still be edited takes it back to leaders only.
    post_debrief(client, task, SHADOW_ANSWERS)
    assert SHADOW_ANSWERS["learned"] not in feed(staff)


def test_ride_along_form_offers_no_share_with_everyone_box(make, login):
    rider = make.marketer()
    task = make.attended_task(rider)
    form = login(rider).get(f"/debriefs/task/{task.id}").get_data(as_text=True)
    assert 'name="share_with_everyone"' not in form and 'name="keep_out_of_feed"' in form


# --- keeping one debrief out of the feed ----------------------------------------------------


def test_keep_out_of_feed_hides_the_debrief_everywhere_others_read_it(make, login, now):
    rider = make.marketer(name="Kim Private")
    task = make.attended_task(rider, segment="SMB")
    client = login(rider)
    questions = {q.key: q for q in current_template("ride_along").questions}
    objections = questions["objections"].id
    price = db.session.scalar(
        db.select(ReasonCode.id).where(ReasonCode.label == "Price", ReasonCode.category == "objection")
    )
    data = ride_form_values(
        make,
        client,
        task,
        learned="Private: procurement needs three quotes.",
        tactic="Private tactic: a procurement pack.",
    )
    data.update(
        {
            f"q_{objections}_codes": str(price),
            f"q_{objections}_words_{price}": "Private words from Acme",
            "keep_out_of_feed": "1",
            "action": "submit",
        }
    )
    assert client.post(f"/debriefs/task/{task.id}", data=data).status_code == 302
    db.session.expire_all()
    debrief = db.session.scalar(db.select(Debrief).where(Debrief.task_id == task.id))
    assert debrief.is_submitted and debrief.keep_out_of_feed

    shared = make.attended_task(make.marketer(name="Pat Public"), segment="SMB")
    make.submit_debrief(shared, {"learned": "Public: SMB buyers want monthly billing."})
    for role, department in (("staff", "Sales"), ("leader", "Marketing"), ("admin", None)):
        html = feed(login(make.user(role=role, department=department)))
        assert "Public: SMB buyers" in html and "Private:" not in html and "Kim Private" not in html, role
    assert "Private:" not in feed(login(make.user(role="admin", department=None)), "?q=procurement")

    marketing = login(make.user(role="leader", department="Marketing"))
    assert "Private tactic" not in marketing.get("/tactics").get_data(as_text=True)
    tactic = db.session.scalar(db.select(Tactic))
    assert marketing.post(f"/tactics/{tactic.id}", data={f"t{tactic.id}-status": "exploring"}).status_code == 404

    insight_page = marketing.get("/insight").get_data(as_text=True)
    assert "Private words from Acme" not in insight_page
    assert "2 submitted debriefs match these filters." in insight_page  # still counted
    rows = list(csv.reader(io.StringIO(marketing.get("/insight.csv").data.decode())))
    assert not any("Private words" in cell for row in rows for cell in row)
    price_row = next(row for row in rows if row[:2] == ["Objection heard", "Price"])
    assert price_row[-4] == "1"  # the code is counted, only the words stay private


# --- the flag on each question ---------------------------------------------------------------


def test_a_question_with_the_flag_off_is_never_shown(make, login, as_role, now):
    ensure_defaults(now)
    admin, _ = as_role("admin")
    data = page_form(
        admin.get("/admin/debriefs/templates/ride_along/edit").get_data(as_text=True), "questions-0-prompt"
    )
    learned_row = row_of(data, "What did you learn?")
    tactic_row = row_of(data, "A sales tactic that could become a scalable marketing programme")
    collateral_row = row_of(data, "Content or collateral that would have helped")
    assert data.get(f"questions-{learned_row}-shared") == "y" and data.get(f"questions-{tactic_row}-shared") == "y"
    assert f"questions-{collateral_row}-shared" not in data  # off by default
    del data[f"questions-{learned_row}-shared"]
    del data[f"questions-{tactic_row}-shared"]
    data[f"questions-{collateral_row}-shared"] = "y"
    assert admin.post("/admin/debriefs/templates/ride_along/edit", data=data).status_code == 302
    db.session.expire_all()
    assert current_template("ride_along").version == 2

    rider = make.marketer(name="Flag Tester")
    task = make.attended_task(rider)
    client = login(rider)
    form = client.get(f"/debriefs/task/{task.id}").get_data(as_text=True)
    assert SHARED_NOTE in _fieldset(form, "Content or collateral that would have helped")
    assert SHARED_NOTE not in _fieldset(form, "What did you learn?")
    values = ride_form_values(
        make,
        client,
        task,
        learned="Unflagged learning about renewals.",
        tactic="Unflagged tactic about renewals.",
        collateral="A flagged wish for a renewals deck.",
    )
    assert client.post(f"/debriefs/task/{task.id}", data={**values, "action": "submit"}).status_code == 302

    for viewer in (make.user(role="admin", department=None), make.user(role="leader", department="Marketing"), rider):
        html = feed(login(viewer), "?q=renewals")
        assert "Unflagged" not in html
        assert "A flagged wish for a renewals deck." in html
    tactics = login(make.user(role="leader", department="Marketing")).get("/tactics").get_data(as_text=True)
    assert "Unflagged tactic" not in tactics and 'id="tactic-' not in tactics


def test_only_text_questions_can_be_shared(make, as_role, now):
    ensure_defaults(now)
    admin, _ = as_role("admin")
    data = page_form(
        admin.get("/admin/debriefs/templates/ride_along/edit").get_data(as_text=True), "questions-0-prompt"
    )
    rating = row_of(data, "Lead quality from your point of view")
    data[f"questions-{rating}-shared"] = "y"
    resp = admin.post("/admin/debriefs/templates/ride_along/edit", data=data)
    assert resp.status_code == 422
    assert "Only text answers can be shared" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert current_template("ride_along").version == 1


def test_published_version_page_says_which_questions_are_shared(as_role, now):
    ensure_defaults(now)
    admin, _ = as_role("admin")
    html = admin.get("/admin/debriefs/templates/ride_along/versions/1").get_data(as_text=True)
    assert html.count("Shared in the learnings feed") == 2


# --- the form says it before submitting ------------------------------------------------------


def _fieldset(html: str, prompt: str) -> str:
    m = re.search(
        r'<fieldset class="field question[^"]*"[^>]*>\s*<legend>' + re.escape(prompt) + r".*?</fieldset>", html, re.S
    )
    assert m, f"no question {prompt!r}"
    return m.group(0)


def test_form_shows_which_answers_are_shared_before_submitting(make, login, now):
    rider = make.marketer()
    task = make.attended_task(rider)
    html = login(rider).get(f"/debriefs/task/{task.id}").get_data(as_text=True)
    assert SHARED_NOTE in _fieldset(html, "What did you learn?")
    assert SHARED_NOTE in _fieldset(html, "A sales tactic that could become a scalable marketing programme")
    for private in (
        "Which objections did you hear?",
        "Lead quality from your point of view",
        "Content or collateral that would have helped",
    ):
        assert SHARED_NOTE not in _fieldset(html, private)
    # One line just above the submit button says it again, naming the questions.
    before_submit = html[html.index('<div class="form-actions">') - 1500 : html.index('<div class="form-actions">')]
    assert "When you submit" in before_submit and "“What did you learn?”" in before_submit
    assert 'name="keep_out_of_feed"' in before_submit

    author = make.user(role="leader", department="Sales")
    shadow = login(author).get(f"/debriefs/task/{shadow_task(make, author, now=now).id}").get_data(as_text=True)
    assert LEADERS_NOTE in _fieldset(shadow, "What I learned about the other function")
    assert SHARED_NOTE not in shadow


def test_keep_out_box_says_nothing_is_shared_when_ticked(make, login):
    rider = make.marketer()
    task = make.attended_task(rider)
    client = login(rider)
    values = ride_form_values(make, client, task, learned="Kept to myself.")
    client.post(f"/debriefs/task/{task.id}", data={**values, "keep_out_of_feed": "1", "action": "submit"})
    html = client.get(f"/debriefs/task/{task.id}").get_data(as_text=True)
    assert re.search(r'name="keep_out_of_feed"[^>]*checked', html)
    assert "kept out of the learnings feed" in html


# --- defaults and the migration --------------------------------------------------------------


def test_default_templates_share_learned_and_tactic_only(app, now):
    ensure_defaults(now)
    shared = {
        (t.kind, q.key) for t in db.session.scalars(db.select(DebriefTemplate)) for q in t.questions if q.shared_in_feed
    }
    assert shared == {
        ("ride_along", "learned"),
        ("ride_along", "tactic"),
        ("review_meeting", "learned"),
        ("shadow_day", "learned"),
    }


def _migrate_with_existing_template(url: str) -> tuple[set, list]:
    """Upgrade to just before the sharing migration, add a template and a debrief, then upgrade."""
    from flask_migrate import downgrade, upgrade

    app = make_app(url)
    with app.app_context():
        upgrade(revision="a10a00000001")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO debrief_template (id, kind, version, published_at, note) "
                    "VALUES (1, 'ride_along', 1, CURRENT_TIMESTAMP, '')"
                )
            )
            for n, key in enumerate(("why_buy", "learned", "tactic", "collateral")):
                conn.execute(
                    text(
                        "INSERT INTO debrief_question (template_id, position, key, qtype, prompt, help_text, "
                        "required, options_json, code_category, ask_words) VALUES (1, :n, :key, 'long_text', "
                        ":key, '', false, '[]', '', false)"
                    ),
                    {"n": n, "key": key},
                )
        upgrade()
        with db.engine.connect() as conn:
            shared = {row[0] for row in conn.execute(text("SELECT key FROM debrief_question WHERE shared_in_feed"))}
            columns = [c["name"] for c in db.inspect(conn).get_columns("debrief")]
        downgrade(revision="a10a00000001")
        with db.engine.connect() as conn:
            assert "shared_in_feed" not in [c["name"] for c in db.inspect(conn).get_columns("debrief_question")]
        downgrade(revision="base")
        db.engine.dispose()
    return shared, columns


def test_migration_flags_existing_learned_and_tactic_questions_on_sqlite(tmp_path):
    shared, columns = _migrate_with_existing_template(f"sqlite:///{tmp_path}/sharing.db")
    assert shared == {"learned", "tactic"}
    assert "keep_out_of_feed" in columns and "share_with_everyone" in columns


@pytest.mark.postgres_only
def test_migration_flags_existing_learned_and_tactic_questions_on_postgresql(_schema):
    if not TEST_DATABASE_URL:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    name = f"tandem_share_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        shared, columns = _migrate_with_existing_template(TEST_DATABASE_URL.rsplit("/", 1)[0] + "/" + name)
        assert shared == {"learned", "tactic"}
        assert "keep_out_of_feed" in columns and "share_with_everyone" in columns
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
