"""The job engine's front door: register tasks and scheduled jobs, defer work, run workers.

- ``register_task(name, fn, queue=...)`` and ``register_job(name, fn, schedule=...)`` (each domain, in its
  ``init_app``); ``defer_after_commit(name, **kwargs)`` from a change, ``defer(name, **kwargs)`` for rows
  already committed; ``claim(key, now)`` for once-only notices.
- The runner (JOBS_BACKEND): procrastinate on PostgreSQL with ``flask worker``; in-process threads on SQLite
  (``make run`` needs no other process); inline in the tests. See runners.py and pg.py.
- CLI: ``flask worker [--queues mail,default,exports]``; ``flask send-reminders`` (one run of the reminders,
  hourly and sweep schedules, for cron users and SQLite) and ``flask run-schedule NAME``.
"""

from __future__ import annotations

import click
from flask import Flask

from program.extensions import db
from program.jobs.registry import (
    QUEUES,
    ScheduleFailed,
    SentNotice,
    claim,
    get_task,
    purge_periodic_records,
    register_job,
    register_task,
    registered_jobs,
    registered_tasks,
    run_all,
    run_scheduled,
    schedules,
)
from program.jobs.runners import (
    EXTENSION,
    Deferral,
    InlineRunner,
    ThreadRunner,
    backend_name,
    defer,
    defer_after_commit,
    make_runner,
    runner,
)
from program.timeutil import utcnow

__all__ = [
    "QUEUES",
    "Deferral",
    "InlineRunner",
    "ScheduleFailed",
    "SentNotice",
    "ThreadRunner",
    "backend_name",
    "claim",
    "defer",
    "defer_after_commit",
    "deliver_before_exit",
    "get_task",
    "init_app",
    "register_job",
    "register_task",
    "registered_jobs",
    "registered_tasks",
    "run_all",
    "run_scheduled",
    "runner",
    "schedules",
]


def deliver_before_exit() -> None:
    """For a CLI command: on the embedded runner, run what it queues before it returns (its threads would die
    with the process); with procrastinate, jobs are in the database already and the workers run them."""
    from flask import current_app

    if isinstance(current_app.extensions[EXTENSION], ThreadRunner):
        current_app.extensions[EXTENSION] = InlineRunner(current_app._get_current_object())  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = make_runner(app)
    register_job("schedule run records purged (older than two days)", purge_periodic_records, schedule="hourly")
    if backend_name(app) == "procrastinate":
        from program.jobs import pg

        pg.init_app(app)

    if backend_name(app) == "thread":

        @app.before_request
        def _start_embedded_jobs() -> None:
            app.extensions[EXTENSION].start()  # once per process; a no-op afterwards

    @app.cli.command("send-reminders")
    def send_reminders_command() -> None:
        """Send due reminders, pass on expired offers, purge what has expired and queue again what was not
        delivered. Idempotent: safe from cron every few minutes (not needed with `flask worker`)."""
        deliver_before_exit()
        try:
            results = run_all(utcnow())
        except ScheduleFailed as exc:
            raise click.ClickException(str(exc)) from exc
        for name, count in results:
            click.echo(f"{name}: {count}")

    @app.cli.command("run-schedule")
    @click.argument("schedule", type=click.Choice(schedules()))
    def run_schedule_command(schedule: str) -> None:
        """Run one schedule now (sweep, reminders, hourly, weekly)."""
        deliver_before_exit()
        try:
            results = run_scheduled(utcnow(), schedule)
        except ScheduleFailed as exc:
            raise click.ClickException(str(exc)) from exc
        for name, count in results:
            click.echo(f"{name}: {count}")

    @app.cli.command("worker")
    @click.option("--queues", default=",".join(QUEUES), show_default=True, help="Comma-separated queues to work on.")
    @click.option("--concurrency", type=int, default=None, help="Mail/default jobs at a time.")
    @click.option("--export-concurrency", type=int, default=None, help="Export jobs at a time (1–2).")
    def worker_command(queues: str, concurrency: int | None, export_concurrency: int | None) -> None:
        """Run the job workers (PostgreSQL): mail, default and exports queues, and the periodic schedules."""
        if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            raise click.ClickException(
                "flask worker needs PostgreSQL (DATABASE_URL); on SQLite the server runs jobs itself."
            )
        chosen = [q.strip() for q in queues.split(",") if q.strip()]
        unknown = sorted(set(chosen) - set(QUEUES))
        if unknown or not chosen:
            raise click.BadParameter(f"queues are {', '.join(QUEUES)}", param_hint="--queues")
        from program.jobs import pg

        db.engine.dispose()  # the worker's threads open their own connections
        click.echo(f"Tandem worker on queues {', '.join(chosen)}")
        pg.run_workers(
            app,
            chosen,
            concurrency or int(app.config["JOBS_WORKER_CONCURRENCY"]),
            export_concurrency or int(app.config["JOBS_EXPORT_CONCURRENCY"]),
        )
