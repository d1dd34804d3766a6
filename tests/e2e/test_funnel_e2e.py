"""A Funnel Reality Check in a real browser: the facilitator enters the funnel and forms the mini-teams
(each a salesperson with a marketer), a member of each team adds an idea for one of the team's stages,
and the sensitivity page ranks the ideas by revenue × confidence ÷ effort weight, with its chart.

The meeting itself (four people marked attended) is created with the app's own models in a subprocess
against the live server's database, so the test doesn't lean on the meetings pages."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

from playwright.sync_api import expect

from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, PROJECT_ROOT, sign_in

HOST = "pmm.lead@example.com"
PEOPLE = {  # nobody else's e2e test signs in as these
    "Hugo Laurent": "hugo.laurent@example.com",
    "Zoe Rivera": "zoe.rivera@example.com",
    "Freya Holm": "freya.holm@example.com",
    "Kai Morgan": "kai.morgan@example.com",
}
FUNNEL = [("Lead", 1000), ("MQL", 400), ("SQL", 100), ("Opportunity", 40), ("Won", 10)]
CONVERSION = {"Lead": Decimal("0.4"), "MQL": Decimal("0.25"), "SQL": Decimal("0.4"), "Opportunity": Decimal("0.25")}
BASELINE = Decimal(10 * 5000)  # 10 won × 5,000.00

MAKE_MEETING = """
import json, sys
from datetime import timedelta
from app import app
from program.extensions import db
from program.accounts.models import User
from program.activities.models import Activity, Participation
from program.timeutil import utcnow

title, host_email, emails = sys.argv[1], sys.argv[2], sys.argv[3:]
with app.app_context():
    users = {u.email: u for u in db.session.scalars(db.select(User).where(User.email.in_([host_email, *emails])))}
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(hours=2)
    host = users[host_email]
    meeting = Activity(kind="review_meeting", title=title, host_id=host.id, created_by_id=host.id, starts_at=start,
                       ends_at=start + timedelta(hours=1), timezone=host.timezone, seats=None, booking_cutoff_at=start)
    db.session.add(meeting)
    db.session.flush()
    try:  # the meetings part's detail row, when that part is there
        from program.reviews.models import ReviewMeeting
        db.session.add(ReviewMeeting(activity_id=meeting.id, format="funnel_reality_check"))
    except (ImportError, AttributeError, TypeError):
        pass
    for email in emails:
        db.session.add(Participation(activity_id=meeting.id, user_id=users[email].id, state="attended", rsvp="yes",
                                     state_changed_at=now, created_at=now))
    db.session.commit()
    print(json.dumps({"id": meeting.id}))
"""


def _make_meeting(live_server, title: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", MAKE_MEETING, title, HOST, *PEOPLE.values()],
        cwd=PROJECT_ROOT,
        env=live_server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])["id"]


def _expected_score(stage: str, lift: str, confidence: int, weight: int) -> str:
    """By hand: lifting a stage's conversion c by L points multiplies revenue by (c + L/100) / c."""
    gain = BASELINE * (Decimal(lift) / 100) / CONVERSION[stage]
    score = (gain * confidence / 100 / weight).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{score:,.2f}"


def _new_page(browser):
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context, context.new_page()


def test_facilitator_forms_mini_teams_teams_add_ideas_and_the_ranking_appears(page, browser, live_server):
    title = f"E2E funnel check {secrets.token_hex(3)}"
    meeting_id = _make_meeting(live_server, title)
    base = f"{live_server.url}/meetings/funnel/{meeting_id}"

    # 1. The facilitator enters the funnel through the form (the default stages are already there).
    sign_in(page, live_server, HOST)
    page.goto(base)
    expect(page.get_by_role("heading", name="Funnel reality check")).to_be_visible()
    page.get_by_role("link", name="Enter the funnel").click()
    page.get_by_label("Period").fill("Last quarter")
    page.get_by_label("Average deal value").fill("5,000")
    for i, (name, count) in enumerate(FUNNEL):
        expect(page.locator(f"input[name='stages-{i}-name']")).to_have_value(name)
        page.locator(f"input[name='stages-{i}-entering']").fill(str(1200 if name == "MQL" else count))
    page.get_by_role("button", name="Save the funnel").click()
    # A count larger than the stage before is refused beside its row, keeping what was typed.
    expect(page.locator("#stages-1-entering-error")).to_have_text(
        "“MQL” has 1,200, more than the 1,000 entering “Lead” before it."
    )
    expect(page.locator("input[name='stages-1-entering']")).to_have_value("1200")
    page.locator("input[name='stages-1-entering']").fill("400")
    page.get_by_role("button", name="Save the funnel").click()
    expect(page.locator(".flashes")).to_contain_text("The funnel is saved.")
    expect(page.locator("#funnel-table")).to_contain_text("25.0 %")

    # 2. The facilitator forms the mini-teams: two pairs, each mixing sales and marketing.
    page.get_by_role("link", name="Mini-teams").click()
    page.get_by_role("button", name="Form mini-teams").click()
    expect(page.locator(".flashes")).to_contain_text("2 mini-teams formed.")
    teams = page.locator("section.team")
    expect(teams).to_have_count(2)
    expect(page.locator("section.team .badge.ok")).to_have_count(2)  # "Sales + Marketing" on both
    members = [teams.nth(i).locator(".member-name").all_inner_texts() for i in range(2)]
    assert sorted(n for team in members for n in team) == sorted(PEOPLE)

    # 3. One member of each team adds an idea for one of their team's stages.
    ideas = [("Speed-to-lead within one hour", "5", 90, "S", 1), ("Quarterly persona refresh", "1", 10, "L", 3)]
    chosen_stage = []
    for team_members, (idea, lift, confidence, effort, _weight) in zip(members, ideas, strict=True):
        context, member_page = _new_page(browser)
        try:
            sign_in(member_page, live_server, PEOPLE[team_members[0]])
            member_page.goto(base + "/ideas")
            expect(member_page.get_by_role("heading", name="Add an idea for Team")).to_be_visible()
            stage_select = member_page.get_by_label("Stage", exact=True)
            stage = stage_select.locator("option").first.inner_text()
            stage_select.select_option(label=stage)
            member_page.get_by_label("Idea", exact=True).fill(idea)
            member_page.get_by_label("Expected lift (percentage points)").fill(lift)
            member_page.get_by_label("Confidence (%)").fill(str(confidence))
            member_page.get_by_label("Effort").select_option(effort)
            member_page.get_by_role("button", name="Add idea").click()
            expect(member_page.locator(".flashes")).to_contain_text("Idea added.")
            expect(member_page.locator(f"table.ideas[data-stage='{stage}']")).to_contain_text(idea)
            chosen_stage.append(stage)
        finally:
            context.close()

    # 4. The ranked list appears for the facilitator, ranked by score, with the formula and the chart.
    page.get_by_role("link", name="Sensitivity").click()
    expect(page.get_by_role("heading", name="How this is calculated")).to_be_visible()
    expect(page.locator(".formula")).to_contain_text("S = 1, M = 2, L = 3")
    rows = page.locator("#idea-ranking tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(ideas[0][0])
    expect(rows.nth(1)).to_contain_text(ideas[1][0])
    for row, (_, lift, confidence, _, weight), stage in zip(
        (rows.nth(0), rows.nth(1)), ideas, chosen_stage, strict=True
    ):
        expect(row).to_contain_text(_expected_score(stage, lift, confidence, weight))
    expect(page.locator("svg[aria-labelledby^='chart-idea-scores']")).to_have_count(1)
    expect(page.locator("#stage-ranking tbody tr")).to_have_count(4)
