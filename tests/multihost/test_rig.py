"""Issue 12, the multi-host proof: Tandem as it runs in production — two app hosts, two job workers, one PostgreSQL
database and a mail relay — keeps its promises when requests land on different hosts, a worker dies, the relay
goes down or is slow, and several workers run the same schedules.

Everything goes through the real pages (sign-in form, CSRF tokens) of the real servers; only data is prepared
in-process (people, calls, a meeting) and the rolled-back change is made in-process. See conftest.py and rig.py.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from pypdf import PdfReader

from tests.multihost.rig import Client, on_the_hour, wait_until

# One rig for the module: under xdist (`--dist loadgroup`) all its tests run on the same worker.
pytestmark = [pytest.mark.postgres_only, pytest.mark.xdist_group("multihost")]


def _pdf_text(content: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(content))
    return len(reader.pages), "\n".join(page.extract_text() or "" for page in reader.pages)


def _signed_in(rig, emails: list[str]) -> list[Client]:
    """A client per person, signed in through the real form, alternating between the hosts."""

    def sign_in(pair: tuple[int, str]) -> Client:
        n, email = pair
        client = Client(rig.hosts[n % len(rig.hosts)])
        client.sign_in(email)
        return client

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(sign_in, enumerate(emails)))


def _job_id(location: str) -> int:
    return int(location.rstrip("/").rsplit("/", 1)[-1])


def _start_export(client: Client, **filters: str) -> int:
    token = client.csrf("/reports/")
    answer = client.post("/reports/exports", {"csrf_token": token, "format": "pdf", **filters})
    assert answer.status == 302, answer.text[:500]
    return _job_id(answer.location)


def _worker_pid(worker: str) -> int:
    """export_job.worker is "hostname:pid:thread:token"."""
    return int(worker.split(":")[1])


# --- 1. a booking burst over both hosts -------------------------------------------------------------------------


def test_booking_burst_over_two_hosts_fills_the_seats_exactly(rig):
    seats, riders = 3, 24
    people = rig.add_people("burst.", riders, department="Rig burst marketing", function="marketing")
    emails = [email for _, email in people]
    ride = rig.offer_ride("rep@example.com", on_the_hour(datetime.now(UTC), 72), seats=seats, title="Burst Dynamics")
    clients = _signed_in(rig, emails)
    tokens = [c.csrf(f"/ride-alongs/{ride}") for c in clients]
    start = threading.Barrier(riders)

    def book(n: int):
        start.wait()  # every rider presses "Book a seat" at the same moment, half of them on each host
        return clients[n].post(f"/activities/{ride}/book", {"csrf_token": tokens[n]})

    with ThreadPoolExecutor(max_workers=riders) as pool:
        answers = list(pool.map(book, range(riders)))

    assert [a.status for a in answers] == [302] * riders
    assert all(a.location.endswith(f"/ride-alongs/{ride}") for a in answers)
    assert {c.host for c in clients} == set(rig.hosts)
    states = rig.query(
        "SELECT p.state, p.waitlist_rank FROM participation p WHERE p.activity_id = %s ORDER BY p.waitlist_rank",
        (ride,),
    )
    counts = Counter(row["state"] for row in states)
    assert counts == {"booked": seats, "waitlisted": riders - seats}, counts
    ranks = [row["waitlist_rank"] for row in states if row["state"] == "waitlisted"]
    assert ranks == list(range(1, riders - seats + 1))
    # each change wrote its own mail, in its own transaction: one per rider, saying what happened to them
    mail = rig.outbox('"to" = ANY(%s)', (emails,))
    subjects = Counter(row["subject"].split(":")[0] for row in mail)
    assert subjects == {"Booked": seats, "On the waitlist": riders - seats}, subjects
    assert Counter(row["to"] for row in mail) == Counter(emails)


# --- 2. an export asked for on one host, downloaded from the other ----------------------------------------------


def test_export_started_on_one_host_downloads_from_the_other(rig):
    hr = Client(rig.hosts[0])
    hr.sign_in("hr@example.com")
    job_id = _start_export(hr, department=str(rig.department_id("People")))
    page = hr.get(f"/reports/exports/{job_id}", host=rig.hosts[1])
    assert page.status == 200
    job = wait_until(
        lambda: next(iter(rig.query("SELECT * FROM export_job WHERE id = %s AND state = 'done'", (job_id,))), None),
        60,
        "the export to finish",
    )
    # a worker process made it, not a web process
    assert _worker_pid(job["worker"]) in {p.pid for p in rig.workers}
    download = hr.get(f"/reports/exports/{job_id}/download", host=rig.hosts[1])
    assert download.status == 200
    assert download.headers["Content-Type"] == "application/pdf"
    pages, text = _pdf_text(download.body)
    assert pages >= 1
    assert "Harper Hughes" in text and "Hana Okafor" in text  # the People department


# --- 3. a worker killed in the middle of a PDF ------------------------------------------------------------------


def test_export_of_a_killed_worker_is_taken_over_by_the_other(two_workers):
    rig = two_workers
    rig.add_people("bulk.", 200, department="Rig bulk", function="other", password=False)  # a PDF of seconds
    hr = Client(rig.hosts[1])
    hr.sign_in("hr@example.com")
    job_id = _start_export(hr)

    def laying_out():
        rows = rig.query("SELECT * FROM export_job WHERE id = %s", (job_id,))
        return rows[0] if rows and rows[0]["state"] == "running" and rows[0]["progress"] >= 50 else None

    first = wait_until(laying_out, 60, "the PDF export to be laid out", every=0.02)
    victim = rig.worker_by_pid(_worker_pid(first["worker"]))
    assert victim is not None, f"{first['worker']} is none of the workers {[p.pid for p in rig.workers]}"
    try:
        rig.kill_worker(victim)
        at_kill = rig.query("SELECT state, attempts FROM export_job WHERE id = %s", (job_id,))[0]
        assert at_kill == {"state": "running", "attempts": 1}, f"the PDF finished before the kill: {at_kill}"

        done = wait_until(
            lambda: next(iter(rig.query("SELECT * FROM export_job WHERE id = %s AND state = 'done'", (job_id,))), None),
            90,
            "the export to be taken over and finished",
            every=0.2,
        )
        assert done["attempts"] >= 2
        assert _worker_pid(done["worker"]) in {p.pid for p in rig.workers}  # the survivor
        assert rig.scalar("SELECT count(*) FROM export_file WHERE job_id = %s", (job_id,)) == 1
        download = Client(rig.hosts[0])
        download.sign_in("hr@example.com")
        answer = download.get(f"/reports/exports/{job_id}/download")
        assert answer.status == 200
        pages, text = _pdf_text(answer.body)
        assert pages >= 5
        assert "Bulk 0001" in text and "Bulk 0200" in text
        assert done["rows"] == rig.scalar('SELECT count(*) FROM "user" WHERE active')
    finally:
        rig.wait_worker_ready(rig.start_worker())  # later tests run with two workers again


# --- 4. the relay goes down and comes back; a rolled-back change sends nothing ------------------------------------


def test_mail_waits_for_the_relay_and_arrives_once_and_a_rollback_sends_nothing(rig):
    people = rig.add_people("relay.", 6, department="Rig relay marketing", function="marketing")
    emails = [email for _, email in people]
    ride = rig.offer_ride("rep@example.com", on_the_hour(datetime.now(UTC), 96), seats=2, title="Relay Logistics")
    clients = _signed_in(rig, emails)
    tokens = [c.csrf(f"/ride-alongs/{ride}") for c in clients]
    rig.sink.stop()
    try:
        for client, token in zip(clients, tokens, strict=True):  # 2 booked, 4 waitlisted: 6 mails
            assert client.post(f"/activities/{ride}/book", {"csrf_token": token}).status == 302
        # the first rider gives up the seat on the other host: "Cancelled" to them, an offer to the first waiting
        other = rig.hosts[1] if clients[0].host == rig.hosts[0] else rig.hosts[0]
        answer = clients[0].post(f"/activities/{ride}/cancel-booking", {"csrf_token": tokens[0]}, host=other)
        assert answer.status == 302

        def all_retrying():
            rows = rig.outbox('"to" = ANY(%s)', (emails,))
            ok = len(rows) == 8 and all(
                r["status"] == "retrying" and r["attempts"] >= 1 and r["last_error"] for r in rows
            )
            return rows if ok else None

        waiting = wait_until(all_retrying, 30, "every message to be retrying while the relay is down")
    finally:
        rig.sink.start()
    assert Counter(r["subject"].split(":")[0] for r in waiting) == {
        "Booked": 2,
        "On the waitlist": 4,
        "Cancelled": 1,
        "A seat is free for you": 1,
    }

    def all_sent():
        rows = rig.outbox('"to" = ANY(%s)', (emails,))
        return rows if all(r["status"] == "sent" for r in rows) else None

    sent = wait_until(all_sent, 90, "every message to be sent once the relay is back", every=0.2)
    ids = [r["message_id"] for r in sent]
    assert len(set(ids)) == 8 and all(ids)
    assert all(r["attempts"] >= 2 for r in sent)  # each failed at least once, then went
    arrived = rig.sink.with_ids(ids)
    assert Counter(r.message_id for r in arrived) == Counter(ids)  # every one, exactly once
    assert sorted(r.to for r in arrived) == sorted(r["to"] for r in sent)

    # a change that rolls back leaves no message, no job, and nothing reaches the relay
    from program.extensions import db
    from program.mail.services import queue_email

    with rig.app.app_context():
        probe = {"user": SimpleNamespace(name="Probe"), "link": "https://tandem.example/reset", "hours": 1}
        rolled_back = queue_email(
            "rolled.back@rig.example.com", "accounts/password_reset", "Rolled back probe", **probe
        )
        rolled_back_id = rolled_back.id  # flushed: it had a row inside the transaction
        db.session.rollback()
        kept = queue_email("committed@rig.example.com", "accounts/password_reset", "Committed probe", **probe)
        db.session.commit()
        kept_id, kept_message_id = kept.id, kept.message_id
        db.session.remove()
    assert rig.outbox("id = %s OR \"to\" = 'rolled.back@rig.example.com'", (rolled_back_id,)) == []
    jobs = rig.query(
        "SELECT args->>'message_id' AS message_id FROM procrastinate_jobs WHERE task_name = 'mail.deliver' "
        "AND (args->>'message_id')::int IN (%s, %s)",
        (rolled_back_id, kept_id),
    )
    assert [j["message_id"] for j in jobs] == [str(kept_id)]
    wait_until(lambda: rig.sink.with_ids([kept_message_id]), 30, "the committed probe to arrive")
    assert [
        r for r in rig.sink.received() if "rolled.back@rig.example.com" in r.to or r.subject == "Rolled back probe"
    ] == []


# --- 5. two workers, the same schedules, several periods --------------------------------------------------------


def test_two_workers_run_each_scheduled_period_once(two_workers):
    rig = two_workers
    people = rig.add_people("tick.", 12, department="Rig tick marketing", function="marketing")
    emails = [email for _, email in people]
    batches = [emails[n : n + 4] for n in range(0, 12, 4)]
    starts_at = on_the_hour(datetime.now(UTC), 2)  # within 24 hours: its riders are due a reminder

    def last_tick() -> int:
        """The newest period of the reminders schedule that a worker ran (its once-per-period key)."""
        return rig.scalar(
            "SELECT max(split_part(key, ':', 3)::bigint) FROM sent_notice WHERE key LIKE 'periodic:reminders:%'"
        )

    first = wait_until(last_tick, 30, "a first period of the reminders schedule")
    for n, batch in enumerate(batches):  # a batch per period: the reminders go out over several periods
        ride = rig.offer_ride("rep@example.com", starts_at, seats=4, title=f"Tick Systems {n}")
        rig.book_quietly(ride, batch)
        wait_until(
            lambda batch=batch: len({r.to for r in rig.sink.received() if r.to in batch}) == len(batch),
            30,
            f"the reminders of batch {n}",
        )
        seen = last_tick()
        wait_until(lambda seen=seen: last_tick() > seen, 30, "the next period")
    final = last_tick()

    arrived = [r for r in rig.sink.received() if r.to in emails]
    assert Counter(r.to for r in arrived) == Counter(emails)  # one reminder each
    assert len({(r.to, r.subject) for r in arrived}) == len(arrived) == 12
    mail = rig.outbox('"to" = ANY(%s)', (emails,))
    assert sorted(r["message_id"] for r in mail) == sorted(r.message_id for r in arrived)

    # every schedule's period was deferred once however many workers run (no (task, tick) twice) ...
    twice = rig.query(
        "SELECT task_name, args->>'timestamp' AS tick, count(*) FROM procrastinate_jobs "
        "WHERE task_name LIKE 'tandem.schedule.%' GROUP BY 1, 2 HAVING count(*) > 1"
    )
    assert twice == []
    twice = rig.query(
        "SELECT task_name, periodic_id, defer_timestamp, count(*) FROM procrastinate_periodic_defers "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1"
    )
    assert twice == []
    # ... and none was skipped: every two-second period of the test's window was deferred and run
    ticks = set(range(first + 2, final + 1, 2))
    assert len(ticks) >= 3, f"the test spanned fewer than three periods: {sorted(ticks)}"
    deferred = {
        int(row["tick"])
        for row in rig.query(
            "SELECT args->>'timestamp' AS tick FROM procrastinate_jobs WHERE task_name = 'tandem.schedule.reminders'"
        )
    }
    ran = {
        int(row["key"].rsplit(":", 1)[1])
        for row in rig.query("SELECT key FROM sent_notice WHERE key LIKE 'periodic:reminders:%'")
    }
    assert ticks <= deferred, sorted(ticks - deferred)
    assert ticks <= ran, sorted(ticks - ran)


# --- 6. a slow relay does not slow a request ---------------------------------------------------------------------


def test_a_slow_relay_does_not_slow_the_request_that_mails_many(rig):
    invitees = rig.add_people("invitee.", 200, department="Rig invitees", function="marketing")
    emails = {email for _, email in invitees}
    meeting = rig.schedule_meeting("marketing.lead@example.com", "Rig all-hands", on_the_hour(datetime.now(UTC), 50))
    lead = Client(rig.hosts[0])
    lead.sign_in("marketing.lead@example.com")
    token = lead.csrf(f"/meetings/{meeting}")
    rig.sink.delay = 0.25  # every message takes the relay a quarter of a second
    try:
        answer = lead.post(
            f"/meetings/{meeting}/invite", {"csrf_token": token, "departments": rig.department_id("Rig invitees")}
        )
        arrived_by_then = sum(1 for r in rig.sink.received() if r.to in emails)
        print(f"\ninvite 200 people: the request took {answer.seconds:.2f} s; {arrived_by_then} mail(s) had arrived")
        assert answer.status == 302, answer.text[:500]
        assert arrived_by_then < 100  # the request did not wait for the relay
        mail = rig.outbox('"to" = ANY(%s)', (list(emails),))
        assert len(mail) == 200

        def all_arrived():
            got = [r for r in rig.sink.received() if r.to in emails]
            return got if len(got) >= 200 else None

        got = wait_until(all_arrived, 120, "all 200 invitations to arrive", every=0.2)
    finally:
        rig.sink.delay = 0.0
    assert Counter(r.to for r in got) == Counter(emails)  # each invitee once
    assert sorted(r.message_id for r in got) == sorted(r["message_id"] for r in mail)
