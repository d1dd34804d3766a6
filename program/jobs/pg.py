"""The production job engine: procrastinate on the PostgreSQL database Tandem already uses.

- Web processes only defer: after the commit, one INSERT per batch into ``procrastinate_jobs`` through a small
  psycopg pool of their own (procrastinate's SQLAlchemy connector is psycopg2-only); NOTIFY wakes a worker.
- ``flask worker`` runs the workers: one for the ``mail`` and ``default`` queues (JOBS_WORKER_CONCURRENCY
  jobs at a time) and one for ``exports`` (JOBS_EXPORT_CONCURRENCY, 1 by default: a PDF takes ~300 MB), so a
  long export never holds up mail. Tasks are the same functions the embedded runner calls, in their own app
  context; a failure is retried with the task's backoff. Periodic schedules are deferred once per period
  however many workers run (procrastinate's periodic defers are unique per task and tick).
- The sweep schedule also hands the jobs of dead workers (no heartbeat for JOBS_STALLED_SECONDS) back to the
  queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from typing import Any

import procrastinate
from flask import Flask
from procrastinate import jobs as pjobs
from procrastinate import sql as psql
from sqlalchemy.engine import make_url

from program.jobs.registry import SCHEDULE_CRON, get_task, log, register_job, registered_tasks, schedules
from program.jobs.runners import Deferral, run_schedule_once, run_task
from program.timeutil import utcnow


def conninfo(app: Flask) -> str:
    """The libpq URL of the app's database (``postgresql+psycopg://`` → ``postgresql://``)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class ProcrastinateRunner:
    name = "procrastinate"

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._papp: procrastinate.App | None = None
        self._pid: int | None = None

    def start(self) -> None:
        pass

    def papp(self) -> procrastinate.App:
        """The deferring app of this process, opened on first use (a pool does not survive a fork)."""
        if self._papp is None or self._pid != os.getpid():
            connector = procrastinate.SyncPsycopgConnector(conninfo=conninfo(self.app), min_size=1, max_size=4)
            self._papp = procrastinate.App(connector=connector).open()
            self._pid = os.getpid()
        return self._papp

    def _job(self, item: Deferral) -> pjobs.Job:
        task = get_task(item.task)
        return pjobs.Job(
            id=None,
            queue=task.queue,
            lock=None,
            queueing_lock=item.lock,
            task_name=item.task,
            task_kwargs=item.kwargs,
            scheduled_at=(utcnow() + timedelta(seconds=item.delay)) if item.delay else None,
            priority=0,
        )

    def defer(self, items: list[Deferral]) -> None:
        manager = self.papp().job_manager
        plain = [self._job(i) for i in items if i.lock is None]
        if plain:
            manager.batch_defer_jobs(plain)
        for item in items:
            if item.lock is not None:
                try:
                    manager.defer_job(self._job(item))
                except procrastinate.exceptions.AlreadyEnqueued:
                    pass  # one is waiting already

    def retry_stalled(self, seconds: float) -> int:
        """Put the jobs of workers silent for ``seconds`` back in the queue."""
        papp = self.papp()
        rows = papp.connector.get_sync_connector().execute_query_all(
            query=psql.queries["select_stalled_jobs_by_heartbeat"],
            queue=None,
            task_name=None,
            seconds_since_heartbeat=seconds,
        )
        retried = 0
        for row in rows:
            try:
                papp.job_manager.retry_job_by_id(job_id=row["id"], retry_at=utcnow())
                retried += 1
            except Exception:  # noqa: BLE001 — finished meanwhile, or already queued again: the next one
                log.info("stalled job %s could not be queued again (finished meanwhile?)", row["id"], exc_info=True)
        return retried


def worker_app(app: Flask) -> procrastinate.App:
    """A procrastinate app with every registered task and one periodic task per schedule."""
    papp = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(app), min_size=1, max_size=8))

    for task in registered_tasks():

        def run(_name: str = task.name, **kwargs: Any) -> None:
            run_task(app, Deferral(_name, kwargs))

        retry = procrastinate.RetryStrategy(max_attempts=task.max_attempts, exponential_wait=task.backoff)
        papp.task(name=task.name, queue=task.queue, retry=retry)(run)

    for schedule in schedules():

        def tick(timestamp: int, _schedule: str = schedule) -> None:
            run_schedule_once(app, _schedule, timestamp)

        periodic = papp.task(name=f"tandem.schedule.{schedule}", queue="default", retry=False)(tick)
        papp.periodic(cron=app.config[SCHEDULE_CRON[schedule]], periodic_id=schedule)(periodic)
    return papp


def run_workers(app: Flask, queues: list[str], concurrency: int, export_concurrency: int) -> None:
    """Run until SIGINT/SIGTERM: the mail/default worker and the exports worker, as ``queues`` asks. Each
    worker beats well within JOBS_STALLED_SECONDS, so a live worker is never taken for dead."""
    papp = worker_app(app)
    stalled = float(app.config["JOBS_STALLED_SECONDS"])
    beat = {"update_heartbeat_interval": max(1.0, min(10.0, stalled / 4)), "stalled_worker_timeout": stalled}
    groups: list[dict[str, Any]] = []
    general = [q for q in queues if q != "exports"]
    if general:
        groups.append({"queues": general, "concurrency": concurrency, "name": "tandem-" + "-".join(general), **beat})
    if "exports" in queues:
        groups.append({"queues": ["exports"], "concurrency": export_concurrency, "name": "tandem-exports", **beat})

    async def main() -> None:
        async with papp.open_async():
            tasks = [
                asyncio.create_task(papp.run_worker_async(install_signal_handlers=False, **group)) for group in groups
            ]
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, lambda: [t.cancel() for t in tasks])
            try:
                await asyncio.gather(*tasks)
            except asyncio.CancelledError:
                log.info("worker stopped")

    asyncio.run(main())


def _retry_stalled(now) -> int:  # noqa: ARG001 — a scheduled job takes now
    from flask import current_app

    from program.jobs.runners import runner

    engine = runner()
    if not isinstance(engine, ProcrastinateRunner):
        return 0
    return engine.retry_stalled(float(current_app.config["JOBS_STALLED_SECONDS"]))


def _delete_old_jobs(now) -> int:  # noqa: ARG001 — a scheduled job takes now
    """Forget jobs that succeeded more than a week ago (their outcome lives in the outbox and export rows);
    failed ones stay for inspection. The job a periodic task remembers as its last is kept."""
    from sqlalchemy import text

    from program.extensions import db
    from program.jobs.runners import runner

    if not isinstance(runner(), ProcrastinateRunner):
        return 0  # the registry is shared by every app of the process; this app queues no jobs in procrastinate
    result = db.session.execute(
        text(
            "DELETE FROM procrastinate_jobs j WHERE j.status = 'succeeded' "
            "AND NOT EXISTS (SELECT 1 FROM procrastinate_periodic_defers d WHERE d.job_id = j.id) "
            "AND NOT EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id "
            "AND e.at >= now() - interval '7 days')"
        )
    )
    return result.rowcount


def init_app(app: Flask) -> None:  # noqa: ARG001
    register_job("stalled jobs of dead workers queued again", _retry_stalled, schedule="sweep")
    register_job("finished jobs older than a week deleted", _delete_old_jobs, schedule="hourly")
