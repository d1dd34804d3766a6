"""A debrief's whole story in a real browser: the host turns a seeded no-show into "attended", the
rider gets the "Debrief due" mail, follows its link through the sign-in form, saves a draft, comes back
to it, is told what a submission still needs, submits, and the host reads the result."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from playwright.sync_api import expect
from sqlalchemy import DateTime, Integer, bindparam, column, create_engine, text

from tests.conftest import body_text
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, sign_in

# Riders other e2e tests act as (or sign in as); this test leaves them alone.
TAKEN_RIDERS = (
    "marketer@example.com",
    "yusuf.demir@example.com",
    "ruby.evans@example.com",
    "isla.campbell@example.com",
    "ben.carter@example.com",
)
NEEDS_ANSWER = "This question needs an answer before you submit."
WHY_BUY = "Why is the customer buying or considering?"
OBJECTIONS = "Which objections did you hear?"
LEAD_QUALITY = "Lead quality from your point of view"
LEARNED = "What did you learn?"

PAST_NO_SHOW = text(
    """
    SELECT a.id AS activity_id, p.id AS participation_id, h.email AS host_email,
           r.email AS rider_email, r.name AS rider_name
    FROM activity a
    JOIN participation p ON p.activity_id = a.id
    JOIN "user" h ON h.id = a.host_id
    JOIN "user" r ON r.id = p.user_id
    WHERE a.kind = 'ride_along' AND a.status = 'scheduled' AND a.ends_at < :now
      AND p.state = 'no_show' AND r.email NOT IN :taken
    ORDER BY a.ends_at DESC, p.id
    """
).bindparams(bindparam("now", type_=DateTime()), bindparam("taken", expanding=True))
TASK_FOR = text("SELECT id, due_at FROM debrief_task WHERE participation_id = :pid").columns(
    column("id", Integer), column("due_at", DateTime())
)


def _rows(live_server, statement, **params) -> list:
    """Run one read-only statement on the live server's database."""
    engine = create_engine(live_server.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement, params))
    finally:
        engine.dispose()


def _utcnow_naive() -> datetime:
    # The app stores UTC without a zone on SQLite.
    return datetime.now(UTC).replace(tzinfo=None)


def _subject(mail) -> str:
    # A subject longer than a line is folded right after "Subject:"; the parser keeps that fold's space.
    return " ".join(mail["Subject"].split())


def _question(page, prompt: str):
    """The fieldset of one debrief question, found by its legend."""
    return page.locator("fieldset.question", has=page.locator("legend", has_text=prompt))


def _task_row(page, task_path: str):
    return page.locator("table.data tbody tr", has=page.locator(f"a[href='{task_path}']"))


def test_rider_drafts_and_submits_a_debrief_the_host_then_reads(page, browser, live_server, smtp_sink):
    # 1. A past ride-along where the host marked a rider no-show, from the seeded demo data.
    found = _rows(live_server, PAST_NO_SHOW, now=_utcnow_naive(), taken=list(TAKEN_RIDERS))
    assert found, (
        "the demo seed has no past, scheduled ride-along with a no-show rider outside "
        f"{', '.join(TAKEN_RIDERS)}; `flask seed-demo` should produce some"
    )
    ride = found[0]
    ride_url = f"{live_server.url}/ride-alongs/{ride.activity_id}"
    learning = f"E2E {secrets.token_hex(4)}: they call it 'month-end panic', never 'reconciliation'."
    words = f"We can't move before the audit ({secrets.token_hex(3)})"

    # 2. The host corrects the no-show to attended.
    sign_in(page, live_server, ride.host_email)
    page.goto(ride_url)
    rider_row = page.locator("table.data tbody tr", has=page.get_by_role("cell", name=ride.rider_name, exact=True))
    expect(rider_row.locator(".badge")).to_have_text("No-show")
    already = len(smtp_sink.to(ride.rider_email))
    rider_row.get_by_role("button", name="Mark attended").click()
    page.wait_for_url(ride_url)
    expect(page.locator(".flashes")).to_contain_text(f"{ride.rider_name}: attended.")
    expect(rider_row.locator(".badge")).to_have_text("Attended")
    expect(rider_row.get_by_role("button", name="Mark attended")).to_be_disabled()

    # 3. The rider is mailed the task; its link goes through the sign-in form to the form.
    mails = smtp_sink.wait_for(ride.rider_email, count=already + 1)[already:]
    due_mails = [m for m in mails if _subject(m).startswith("Debrief due: ")]
    assert len(due_mails) == 1, [_subject(m) for m in mails]
    body = body_text(due_mails[0])
    link_match = re.search(re.escape(live_server.url) + r"/debriefs/task/(\d+)\b", body)
    assert link_match, body
    link = link_match.group(0)
    task_path = link.removeprefix(live_server.url)
    tasks = _rows(live_server, TASK_FOR, pid=ride.participation_id)
    assert [t.id for t in tasks] == [int(link_match.group(1))], "the mailed link is not this participation's task"
    # A task made days after the call can already be past its due date; the /tasks badge says so.
    overdue = tasks[0].due_at < _utcnow_naive()

    rider_context = browser.new_context()
    rider_context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        rider = rider_context.new_page()
        rider.goto(link)
        rider.wait_for_url(re.compile(re.escape(live_server.url) + r"/login\?next=.+"))
        expect(rider.locator(".flashes")).to_contain_text("Please sign in to see that page.")
        rider.locator("input[name='email']").fill(ride.rider_email)
        rider.locator("input[name='password']").fill("demo-password")
        rider.get_by_role("button", name="Sign in").click()
        rider.wait_for_url(link)
        expect(rider.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Debrief: "))

        # 4. A draft with only the learning; it survives leaving the page and coming back.
        learned = _question(rider, LEARNED).locator("textarea")
        learned.fill(learning)
        rider.get_by_role("button", name="Save draft").click()
        rider.wait_for_url(link)
        expect(rider.locator(".flashes")).to_contain_text("Draft saved")
        expect(learned).to_have_value(learning)

        rider.locator("nav.main-nav").get_by_role("link", name="My debriefs", exact=True).click()
        rider.wait_for_url(live_server.url + "/tasks")
        row = _task_row(rider, task_path)
        expect(row).to_have_count(1)
        expect(row.locator(".badge")).to_have_text("Overdue" if overdue else "Draft")
        row.get_by_role("link", name="Continue", exact=True).click()
        rider.wait_for_url(link)
        expect(learned).to_have_value(learning)

        # 5. Submitting without the required answers: told beside each, nothing typed is lost.
        rider.get_by_role("button", name="Submit debrief").click()
        expect(rider.locator(".form-errors")).to_contain_text("2 answers need attention; everything you typed is kept.")
        expect(_question(rider, WHY_BUY).locator(".error")).to_have_text(NEEDS_ANSWER)
        expect(_question(rider, LEAD_QUALITY).locator(".error")).to_have_text(NEEDS_ANSWER)
        expect(_question(rider, LEARNED).locator(".error")).to_have_count(0)
        expect(_question(rider, OBJECTIONS).locator(".error")).to_have_count(0)
        expect(learned).to_have_value(learning)
        expect(rider).to_have_url(link)

        # 6. Complete and submit.
        _question(rider, WHY_BUY).get_by_label("Saves time", exact=True).check()
        _question(rider, LEAD_QUALITY).get_by_label("4", exact=True).check()
        objections = _question(rider, OBJECTIONS)
        objections.get_by_label("Timing", exact=True).check()
        objections.get_by_label("Customer's words for Timing", exact=True).fill(words)
        rider.get_by_role("button", name="Submit debrief").click()
        rider.wait_for_url(link)
        expect(rider.locator(".flashes")).to_contain_text("Your debrief is submitted")
        expect(rider.locator(".form-errors")).to_have_count(0)
        expect(learned).to_have_value(learning)
        expect(rider.get_by_role("button", name="Save changes")).to_be_visible()
        expect(rider.get_by_role("button", name="Save draft")).to_have_count(0)

        rider.goto(live_server.url + "/tasks?show=done")
        done = _task_row(rider, task_path)
        expect(done).to_have_count(1)
        expect(done.locator(".badge")).to_have_text("Submitted")
        expect(done.get_by_role("link", name="Open", exact=True)).to_be_visible()
        rider.goto(live_server.url + "/tasks")
        expect(_task_row(rider, task_path)).to_have_count(0)
    finally:
        rider_context.close()

    # 7. The host reads it, read-only.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Debrief by {ride.rider_name}")
    expect(page.locator("main .badge.ok")).to_contain_text("Submitted")
    expect(page.locator("main .badge.warn", has_text="late")).to_have_count(1 if overdue else 0)
    answers = page.locator("dl.answers")
    expect(answers).to_contain_text(learning)
    expect(answers).to_contain_text(words)
    expect(answers).to_contain_text("Saves time")
    expect(answers).to_contain_text("4 / 5")
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.get_by_role("button", name="Submit debrief")).to_have_count(0)
