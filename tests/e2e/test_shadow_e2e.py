"""A leader's shadow-day follow-through in a real browser: from the dashboard tile to the pairing page,
the debrief for the day in sales is written and submitted, then a follow-up action is ticked done with
its date and evidence (the seeded pairing between ent.lead and demand.lead is completed, and Grace's
debrief is still open)."""

from __future__ import annotations

import secrets

from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

LEADER = "demand.lead@example.com"


def test_leader_files_shadow_debrief_and_ticks_a_follow_up(page, live_server):
    sign_in(page, live_server, LEADER)
    page.get_by_role("link", name="My shadow days").click()
    expect(page.get_by_role("heading", name="My shadow days")).to_be_visible()
    page.get_by_role("row").filter(has_text="Completed").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Elena Petrova & Grace Kim")).to_be_visible()
    day = page.locator("section.day-card").filter(has_text="Grace Kim in Elena Petrova's sales world")
    day.get_by_role("link", name="Write the debrief").click()

    learned = f"Sales forecasts every Monday; we should time campaigns to it ({secrets.token_hex(3)})."
    page.locator("fieldset", has_text="What I learned about the other function").locator("textarea").fill(learned)
    page.locator("fieldset", has_text="What surprised me").locator("textarea").fill("How much reps rely on one deck.")
    page.get_by_role("button", name="Submit debrief").click()
    expect(page.locator(".form-errors")).to_contain_text("1 answer needs attention")
    expect(
        page.locator("fieldset", has_text="What I learned about the other function").locator("textarea")
    ).to_have_value(learned)
    page.locator("fieldset", has_text="One thing my team will change").locator("textarea").fill(
        "Join the Monday forecast."
    )
    page.get_by_role("button", name="Submit debrief").click()
    expect(page.locator(".flashes")).to_contain_text("Your debrief is submitted")

    page.goto(live_server.url + "/shadow-days/")
    page.get_by_role("row").filter(has_text="Completed").get_by_role("link").first.click()
    day = page.locator("section.day-card").filter(has_text="Grace Kim in Elena Petrova's sales world")
    expect(day).to_contain_text("Submitted")
    shared = day.locator("li", has_text="I shared what I learned with my team")
    shared.get_by_label("Status").select_option("done")
    shared.get_by_role("button", name="Update").click()
    expect(page.locator(".flashes")).to_contain_text("Please correct the marked fields")  # date and evidence needed
    shared = (
        page.locator("section.day-card")
        .filter(has_text="Grace Kim in Elena")
        .locator("li", has_text="I shared what I learned")
    )
    expect(shared.locator(".error").first).to_be_visible()
    shared.get_by_label("Status").select_option("done")
    shared.get_by_label("Done on").fill(page.evaluate("new Date().toISOString().slice(0, 10)"))
    shared.get_by_label("Evidence").fill("Presented it at the Tuesday demand-gen stand-up")
    shared.get_by_role("button", name="Update").click()
    expect(page.locator(".flashes")).to_contain_text("Follow-up done")
    shared = (
        page.locator("section.day-card")
        .filter(has_text="Grace Kim in Elena")
        .locator("li", has_text="I shared what I learned")
    )
    expect(shared).to_contain_text("Presented it at the Tuesday demand-gen stand-up")
    expect(shared.locator(".badge")).to_have_text("done")
