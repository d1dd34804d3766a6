"""The foundation in a real browser: each demo role's navigation, sign-out, a wrong password, and a
password reset through the link that arrives by email."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import body_text
from tests.e2e.conftest import sign_in

ADMIN_ONLY = ["Departments", "Teams", "Import", "Outbox"]

# email, role label in the user menu, nav links that must show, nav links that must not
ROLES = [
    ("admin@example.com", "Admin", ["Dashboard", "People", *ADMIN_ONLY], []),
    ("hr@example.com", "HR", ["Dashboard", "People"], ADMIN_ONLY),
    ("sales.lead@example.com", "Leader", ["Dashboard"], ["People", *ADMIN_ONLY]),
    ("marketing.lead@example.com", "Leader", ["Dashboard"], ["People", *ADMIN_ONLY]),
    ("rep@example.com", "Staff", ["Dashboard"], ["People", *ADMIN_ONLY]),
    ("marketer@example.com", "Staff", ["Dashboard"], ["People", *ADMIN_ONLY]),
]


@pytest.mark.parametrize(("email", "label", "shown", "hidden"), ROLES, ids=[r[0].split("@")[0] for r in ROLES])
def test_each_role_sees_its_navigation_and_can_sign_out(page, live_server, email, label, shown, hidden):
    sign_in(page, live_server, email)

    nav = page.locator("nav.main-nav")
    for name in shown:
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    for name in hidden:
        expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(0)
    expect(page.locator(".who")).to_contain_text(f"· {label}")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(live_server.url + "/login")
    expect(page.locator(".flashes")).to_contain_text("You are signed out.")
    expect(page.locator("nav.main-nav")).to_have_count(0)
    # The dashboard is closed again: it sends the browser back to the sign-in form.
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(re.escape(live_server.url) + r"/login(\?.*)?$"))


def test_wrong_password_says_why_and_keeps_the_email(page, live_server):
    email = "ben.carter@example.com"
    page.goto(live_server.url + "/login")
    page.locator("input[name='email']").fill(email)
    page.locator("input[name='password']").fill("not-my-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator(".form-errors")).to_contain_text("That email and password don't match an active account.")
    expect(page).to_have_url(live_server.url + "/login")
    expect(page.locator("input[name='email']")).to_have_value(email)
    expect(page.locator("input[name='password']")).to_have_value("")
    expect(page.locator("nav.main-nav")).to_have_count(0)

    # The kept email is usable as it is: typing only the right password signs in.
    page.locator("input[name='password']").fill("demo-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ben")


def test_password_reset_through_the_emailed_link(page, live_server, smtp_sink):
    # Not one of the six demo logins: this changes the password in the shared server's database.
    email = "isla.campbell@example.com"
    new_password = "isla-new-password-42"
    already = len(smtp_sink.to(email))

    page.goto(live_server.url + "/forgot")
    page.locator("input[name='email']").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    page.wait_for_url(live_server.url + "/login")
    expect(page.locator(".flashes")).to_contain_text("we have sent a link")

    mail = smtp_sink.wait_for(email, count=already + 1)[-1]
    assert mail["Subject"] == "Reset your Tandem password"
    found = re.search(re.escape(live_server.url) + r"/reset/[A-Za-z0-9_-]+", body_text(mail))
    assert found, body_text(mail)
    link = found.group(0)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.locator("input[name='new_password']").fill(new_password)
    page.locator("input[name='confirm']").fill(new_password)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(live_server.url + "/login")
    expect(page.locator(".flashes")).to_contain_text("Your password is set.")

    sign_in(page, live_server, email, new_password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Isla")

    # The link works once.
    response = page.goto(link)
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("This link can't be used")
    expect(page.locator("input[name='new_password']")).to_have_count(0)
