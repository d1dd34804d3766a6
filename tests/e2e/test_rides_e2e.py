"""A ride-along's whole seat story in a real browser: a rep offers a one-seat call, one rider books
the seat, a second joins the waitlist, the first cancels, and the second takes the freed seat through
the one-click link in the offer email — with the calendar invitations each step sends."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.conftest import body_text, calendar_part, parse_ics
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, sign_in

REP = "rep@example.com"
RIDER_A = "yusuf.demir@example.com"
RIDER_B = "ruby.evans@example.com"
LONDON = ZoneInfo("Europe/London")


def _new_page(browser):
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context, context.new_page()


def _one_new_mail(smtp_sink, address: str, already: int, subject_start: str, account: str) -> EmailMessage:
    """The one mail to ``address`` since ``already`` whose subject starts as given and names the call."""
    count = already + 1
    while True:  # wait_for fails the test if no further mail arrives in time
        new = smtp_sink.wait_for(address, count=count)[already:]
        found = [m for m in new if m["Subject"].startswith(subject_start) and account in m["Subject"]]
        if found:
            assert len(found) == 1, [m["Subject"] for m in new]
            return found[0]
        count = already + len(new) + 1


def _invite(mail: EmailMessage, method: str):
    """The mail's text/calendar part, checked to carry ``method`` both as a MIME parameter and inside the ICS."""
    part = calendar_part(mail)
    assert part is not None, f"no text/calendar part in {mail['Subject']!r}"
    assert part.get_param("method") == method
    cal = parse_ics(part.get_content())
    assert cal.method.value == method
    return cal.vevent


def _confirm(page, label: str) -> None:
    """Open a confirm_button's <details> and press its "Yes, ..." button."""
    page.locator("summary", has_text=label).click()
    page.get_by_role("button", name=f"Yes, {label.lower()}").click()


def test_waitlisted_rider_takes_the_freed_seat_through_the_offer_email(page, browser, live_server, smtp_sink):
    account = f"E2E Waitlist Co {secrets.token_hex(3)}"
    # The server runs on the real clock: a call ~20 days out is open for booking whatever today is.
    day = date.today() + timedelta(days=20)
    starts_london = datetime.combine(day, time(6, 0), LONDON)
    contexts = []
    try:
        # 1. The rep offers a one-seat video call.
        sign_in(page, live_server, REP)
        page.locator("nav.main-nav").get_by_role("link", name="Ride-alongs", exact=True).click()
        page.get_by_role("link", name="Offer a call").click()
        page.wait_for_url(live_server.url + "/ride-alongs/new")
        page.get_by_label("Account or prospect", exact=True).fill(account)
        page.get_by_label("Customer segment", exact=True).select_option("Mid-Market")
        page.get_by_label("Funnel stage", exact=True).select_option("Opportunity")
        page.get_by_label("Call type", exact=True).select_option("demo")
        page.get_by_label("Seats for riders", exact=True).fill("1")
        page.get_by_label("Date", exact=True).fill(day.isoformat())
        page.get_by_label("Starts", exact=True).fill("06:00")
        page.get_by_label("Ends", exact=True).fill("06:30")
        page.get_by_label("Timezone of the call", exact=True).select_option("Europe/London")
        page.get_by_label("Video link", exact=True).fill("https://meet.example.com/e2e")
        page.get_by_role("button", name="Offer the call").click()

        page.wait_for_url(re.compile(re.escape(live_server.url) + r"/ride-alongs/\d+$"))
        ride_url = page.url
        expect(page.locator(".flashes")).to_contain_text("Your call is offered.")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Demo with {account}")
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text(f"{day:%a %d %b %Y}, 06:00")
        expect(facts).to_contain_text("06:30")
        expect(facts).to_contain_text("1 of 1 free · 0 waiting")
        expect(page.locator("#you")).to_contain_text("You host this call.")

        # 2. Rider A books the only seat and gets an invitation.
        context_a, page_a = _new_page(browser)
        contexts.append(context_a)
        sign_in(page_a, live_server, RIDER_A)
        a_before = len(smtp_sink.to(RIDER_A))
        page_a.goto(ride_url)
        expect(page_a.locator("dl.facts")).to_contain_text("1 of 1 free")
        _confirm(page_a, "Book a seat")
        page_a.wait_for_url(ride_url)
        expect(page_a.locator(".flashes")).to_contain_text("You're booked.")
        expect(page_a.locator("#you .badge")).to_have_text("Booked")
        expect(page_a.locator("dl.facts")).to_contain_text("0 of 1 free")

        booked_a = _one_new_mail(smtp_sink, RIDER_A, a_before, "Booked:", account)
        event_a = _invite(booked_a, "REQUEST")
        assert event_a.dtstart.value == starts_london
        assert event_a.dtend.value == starts_london + timedelta(minutes=30)
        assert ride_url in body_text(booked_a)

        # 3. Rider B finds the call full and joins the waitlist.
        context_b, page_b = _new_page(browser)
        contexts.append(context_b)
        sign_in(page_b, live_server, RIDER_B)
        b_before = len(smtp_sink.to(RIDER_B))
        page_b.goto(ride_url)
        expect(page_b.locator("#you")).to_contain_text("This call is full.")
        expect(page_b.locator("#you").get_by_text("Book a seat", exact=True)).to_have_count(0)
        _confirm(page_b, "Join the waitlist")
        page_b.wait_for_url(ride_url)
        expect(page_b.locator(".flashes")).to_contain_text("you're number 1 on the waitlist")
        expect(page_b.locator("#you .badge")).to_have_text("Waitlisted")
        expect(page_b.locator("dl.facts")).to_contain_text("0 of 1 free · 1 waiting")

        # 4. Rider A gives the seat up; the invitation is withdrawn.
        page_a.goto(ride_url)
        _confirm(page_a, "Cancel my seat")
        page_a.wait_for_url(ride_url)
        expect(page_a.locator(".flashes")).to_contain_text("Your seat is cancelled")
        expect(page_a.locator("#you .badge", has_text="Booked")).to_have_count(0)

        cancelled_a = _one_new_mail(smtp_sink, RIDER_A, a_before + 1, "Cancelled:", account)
        event_cancel = _invite(cancelled_a, "CANCEL")
        assert event_cancel.uid.value == event_a.uid.value
        assert event_cancel.status.value == "CANCELLED"

        # 5. Rider B is offered the seat by email and accepts it through the one-click link.
        offer = _one_new_mail(smtp_sink, RIDER_B, b_before, "A seat is free for you", account)
        assert calendar_part(offer) is None
        found = re.search(re.escape(live_server.url) + r"/offers/[A-Za-z0-9_.\-]+", body_text(offer))
        assert found, body_text(offer)
        offer_url = found.group(0)

        page_b.goto(offer_url)
        accept = page_b.get_by_role("button", name="Accept the seat")
        expect(accept).to_be_visible()
        b_before_accept = len(smtp_sink.to(RIDER_B))
        accept.click()
        page_b.wait_for_url(offer_url)
        expect(page_b.locator(".flashes")).to_contain_text("The seat is yours")
        expect(page_b.get_by_role("button", name="Accept the seat")).to_have_count(0)
        expect(page_b.locator("main .badge")).to_have_text("Booked")

        page_b.goto(ride_url)
        expect(page_b.locator("#you .badge")).to_have_text("Booked")
        expect(page_b.locator("dl.facts")).to_contain_text("0 of 1 free · 0 waiting")

        page_b.locator("nav.main-nav").get_by_role("link", name="My schedule", exact=True).click()
        page_b.wait_for_url(live_server.url + "/schedule")
        row = page_b.locator("table.data tbody tr", has_text=account)
        expect(row).to_have_count(1)
        expect(row.locator(".badge")).to_have_text("Booked")
        expect(row).to_contain_text(f"{day:%a %d %b %Y}, 06:00")

        booked_b = _one_new_mail(smtp_sink, RIDER_B, b_before_accept, "Booked:", account)
        event_b = _invite(booked_b, "REQUEST")
        assert event_b.dtstart.value == starts_london
    finally:
        for context in contexts:
            context.close()
