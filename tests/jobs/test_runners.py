"""The job runners: the embedded one (threads of the serving process) retries with the task's backoff and gives
up; each schedule runs once per period however many processes run it; deferral waits for the commit; the CLI
for cron users delivers before it exits."""

from __future__ import annotations

import threading
import time

import pytest

from program import jobs
from program.extensions import db
from program.jobs.runners import ThreadRunner, run_schedule_once
from program.mail.models import OutboxMessage
from program.mail.services import queue_email


@pytest.fixture
def task_log():
    """A task that fails a given number of times before it succeeds, registered for this test only."""
    calls: list[int] = []
    state = {"fail": 0}

    def flaky(n: int) -> None:
        calls.append(n)
        if state["fail"] > 0:
            state["fail"] -= 1
            raise RuntimeError("not yet")

    jobs.register_task("test.flaky", flaky, queue="default", max_attempts=3, backoff=0)
    yield calls, state
    jobs.registry._TASKS.pop("test.flaky", None)


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_the_embedded_runner_runs_a_task_after_the_commit_only(app, thread_jobs, task_log):
    calls, _ = task_log
    jobs.defer_after_commit("test.flaky", n=1)
    db.session.rollback()
    jobs.defer_after_commit("test.flaky", n=2)
    db.session.commit()
    assert thread_jobs.drain()
    assert calls == [2]


def test_the_embedded_runner_retries_and_then_gives_up(app, thread_jobs, task_log):
    calls, state = task_log
    state["fail"] = 2
    jobs.defer("test.flaky", n=7)
    assert thread_jobs.drain(include_delayed=True)
    assert calls == [7, 7, 7]  # failed twice, the third attempt succeeded
    calls.clear()
    state["fail"] = 5
    jobs.defer("test.flaky", n=8)
    assert thread_jobs.drain(include_delayed=True)
    assert calls == [8, 8, 8]  # max_attempts=3: then it gives up


def test_a_long_export_does_not_hold_up_mail(app, thread_jobs):
    """Exports have their own thread: a task on the exports queue that blocks leaves mail flowing."""
    release = threading.Event()
    jobs.register_task("test.block", lambda: release.wait(10), queue="exports")
    try:
        jobs.defer("test.block")
        queue_email("fast@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
        db.session.commit()
        assert _wait(lambda: db.session.scalar(db.select(OutboxMessage.status)) == "logged" or db.session.rollback())
    finally:
        release.set()
        jobs.registry._TASKS.pop("test.block", None)


def test_each_schedule_runs_once_per_period_across_processes(app, now):
    runs: list[str] = []
    jobs.register_job("test.counter", lambda at: runs.append(at) or 1, schedule="hourly")
    try:
        tick = 1_800_000_000
        results = []
        barrier = threading.Barrier(4)

        def process() -> None:
            barrier.wait()
            results.append(run_schedule_once(app, "hourly", tick))

        threads = [threading.Thread(target=process) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False, False, False, True]
        assert len(runs) == 1
        assert run_schedule_once(app, "hourly", tick + 3600) is True  # the next period runs again
        assert len(runs) == 2
        from datetime import timedelta

        assert jobs.purge_periodic_records(now + timedelta(days=1)) == 0
        assert jobs.purge_periodic_records(now + timedelta(days=3)) == 2  # the records go after two days
    finally:
        jobs.registry._SCHEDULES["hourly"].pop("test.counter", None)


def test_the_embedded_schedules_follow_their_cron(app):
    """Two embedded runners (two processes' worth) on a one-second schedule: every second runs once."""
    runs: list[object] = []
    jobs.register_job("test.tick", lambda at: runs.append(at) or 1, schedule="sweep")
    app.config["JOBS_SWEEP_CRON"] = "* * * * * *"
    runners = [ThreadRunner(app), ThreadRunner(app)]
    try:
        for r in runners:
            r._pid = None
            r.start()
        assert _wait(lambda: len(runs) >= 3, timeout=15)
    finally:
        for r in runners:
            r.stop()
        jobs.registry._SCHEDULES["sweep"].pop("test.tick", None)
    keys = db.session.scalars(db.select(jobs.SentNotice.key).where(jobs.SentNotice.key.like("periodic:sweep:%"))).all()
    assert len(keys) == len(set(keys)) >= 3


def test_send_reminders_delivers_before_it_exits_on_the_embedded_runner(app, make, now, mail):
    from datetime import timedelta

    from program.activities import services as core

    app.extensions[jobs.runners.EXTENSION] = ThreadRunner(app, schedules=False)
    try:
        ride = make.ride_along(starts_in=timedelta(hours=20))
        core.book_seat(ride.id, make.marketer(email="cron@example.com"), now - timedelta(days=1))
        db.session.commit()
        assert app.extensions[jobs.runners.EXTENSION].drain()  # the booking's own mail
        mail.clear()
        result = app.test_cli_runner().invoke(args=["send-reminders"])
        assert result.exit_code == 0, result.output
        assert "activity reminders (24 hours before): 1" in result.output
        # already delivered when the command returns: no thread left behind to do it
        assert [m["Subject"].split(":")[0] for m in mail.to("cron@example.com")] == ["Tomorrow"]
    finally:
        app.extensions[jobs.runners.EXTENSION] = jobs.InlineRunner(app)


def test_flask_worker_explains_it_needs_postgresql(app, is_postgres):
    if is_postgres:
        bad = app.test_cli_runner().invoke(args=["worker", "--queues", "mail,nonsense"])
        assert bad.exit_code != 0 and "queues are mail, default, exports" in bad.output
        return
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code != 0
    assert "flask worker needs PostgreSQL" in result.output


def test_run_schedule_runs_one_schedule(app):
    result = app.test_cli_runner().invoke(args=["run-schedule", "hourly"])
    assert result.exit_code == 0, result.output
    assert "expired export files deleted: 0" in result.output
