"""Where deferred tasks run.

- ``defer_after_commit`` keeps the deferral in the session until the outermost transaction commits (a rolled
  back change queues nothing); ``defer`` hands it to the runner at once (for rows already committed).
- The runner is chosen by JOBS_BACKEND: "procrastinate" (PostgreSQL: jobs live in the database and
  ``flask worker`` runs them; see program/jobs/pg.py), "thread" (the embedded default on SQLite: a few
  threads of the serving process run the same tasks and the schedules, with the same retry rules) or
  "inline" (run right after the commit, in the caller's process: the tests, and the CLI commands on SQLite).
  "auto" means procrastinate on PostgreSQL, thread otherwise.

Every delivery is at-least-once: a task may run twice (a retry, a sweep, a dead worker); the tasks make it
effectively once by claiming their row with a conditional UPDATE.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from program.extensions import db
from program.jobs.registry import SCHEDULE_CRON, claim, get_task, log, run_scheduled, schedules
from program.timeutil import utcnow

_PENDING_KEY = "tandem_pending_jobs"
_COMMITTED_KEY = "tandem_jobs_commit_seen"
EXTENSION = "tandem_jobs"


@dataclass
class Deferral:
    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    delay: float = 0  # seconds
    lock: str | None = None  # at most one queued job per lock (procrastinate's queueing lock)
    attempt: int = 0


def runner(app: Flask | None = None):
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions[EXTENSION]


def defer(task: str, *, delay: float = 0, lock: str | None = None, **kwargs: Any) -> None:
    """Queue ``task`` now (its rows must already be committed)."""
    get_task(task)  # fail early on a typo
    runner().defer([Deferral(task, kwargs, delay, lock)])


def defer_after_commit(task: str, *, delay: float = 0, lock: str | None = None, **kwargs: Any) -> None:
    """Queue ``task`` when the current transaction commits; nothing if it rolls back."""
    get_task(task)
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that the rollback or commit that ends it is seen (no connection is taken yet)
    db.session.info.setdefault(_PENDING_KEY, []).append(Deferral(task, kwargs, delay, lock))


# SQLAlchemy fires after_commit/after_rollback for savepoints (begin_nested) as well as for the real
# transaction, so jobs are deferred or dropped only when the outermost transaction ends: after_commit marks
# "a commit happened", and the end of the root transaction acts on it (a savepoint's end clears it).
@event.listens_for(Session, "after_commit")
def _mark_commit(session: Session) -> None:
    session.info[_COMMITTED_KEY] = True


@event.listens_for(Session, "after_transaction_end")
def _defer_or_drop(session: Session, transaction) -> None:
    committed = session.info.pop(_COMMITTED_KEY, False)
    if transaction.parent is not None:
        return  # a savepoint: the jobs wait for the outermost transaction
    pending = session.info.pop(_PENDING_KEY, None)
    if committed and pending:
        try:
            runner().defer(pending)
        except Exception:  # noqa: BLE001 — the rows are committed; the sweep defers them again
            log.exception("deferring %d job(s) failed; the sweep will queue them again", len(pending))


def run_task(app: Flask, item: Deferral) -> None:
    """Run one task in its own app context (and so its own session); commit, or roll back and raise."""
    task = get_task(item.task)
    with app.app_context():
        try:
            task.fn(**item.kwargs)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def run_schedule_once(app: Flask, schedule: str, tick: int) -> bool:
    """Run ``schedule`` for the period starting at ``tick`` (a Unix time) unless some process already did:
    the embedded runner's way of "once per period however many processes run it"."""
    with app.app_context():
        try:
            if not claim(f"periodic:{schedule}:{tick}", utcnow()):
                db.session.rollback()
                return False
            db.session.commit()
            run_scheduled(utcnow(), schedule)
            return True
        finally:
            db.session.remove()


class InlineRunner:
    """Runs each task right after the commit, before the caller goes on, in a thread of its own (its own app
    context and session; the caller waits). A retry or a delayed task is kept in ``later`` (the sweep, or a
    test, picks it up)."""

    name = "inline"

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.later: list[Deferral] = []

    def start(self) -> None:
        pass

    def defer(self, items: list[Deferral]) -> None:
        for item in items:
            if item.delay > 0:
                self.later.append(item)
                continue
            errors: list[BaseException] = []
            thread = threading.Thread(target=self._run, args=(item, errors), name=f"tandem-job-{item.task}")
            thread.start()
            thread.join()
            if errors:
                task = get_task(item.task)
                if item.attempt + 1 < task.max_attempts:
                    self.later.append(
                        Deferral(item.task, item.kwargs, task.wait(item.attempt), item.lock, item.attempt + 1)
                    )
                else:
                    log.error("task %s gave up after %d attempts", item.task, item.attempt + 1)

    def _run(self, item: Deferral, errors: list[BaseException]) -> None:
        try:
            run_task(self.app, item)
        except Exception as exc:  # noqa: BLE001 — retried per the task's rules
            log.exception("task %s failed (attempt %d)", item.task, item.attempt + 1)
            errors.append(exc)


class ThreadRunner:
    """The embedded job engine: in the serving process, one thread for mail and default tasks, one for
    exports, one for the schedules. Tasks wait in memory; anything lost with the process (a restart) is
    queued again by the sweep from the rows it belongs to. Retries follow the task's rules. Each schedule
    runs once per period across processes (a claimed key per period)."""

    name = "thread"
    GROUPS = {"mail": "work", "default": "work", "exports": "exports"}

    def __init__(self, app: Flask, *, schedules: bool = True) -> None:
        self.app = app
        self.run_schedules = schedules
        self._cv = threading.Condition()
        self._heaps: dict[str, list[tuple[float, int, Deferral]]] = {"work": [], "exports": []}
        self._seq = itertools.count()
        self._pid: int | None = None
        self._stop = threading.Event()
        self.busy = 0

    def start(self) -> None:
        with self._cv:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()  # after a fork the threads are gone: start them again
            self._heaps = {"work": [], "exports": []}
            for group in self._heaps:
                threading.Thread(target=self._work, args=(group,), name=f"tandem-jobs-{group}", daemon=True).start()
            if self.run_schedules:
                threading.Thread(target=self._schedule, name="tandem-jobs-schedules", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()

    def defer(self, items: list[Deferral]) -> None:
        self.start()
        with self._cv:
            for item in items:
                group = self.GROUPS[get_task(item.task).queue]
                heapq.heappush(self._heaps[group], (time.monotonic() + item.delay, next(self._seq), item))
            self._cv.notify_all()

    def pending(self) -> int:
        with self._cv:
            return sum(len(h) for h in self._heaps.values()) + self.busy

    def drain(self, timeout: float = 30.0, *, include_delayed: bool = False) -> bool:
        """Wait until nothing is due or running (or also nothing delayed); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cv:
                now = time.monotonic()
                waiting = sum(1 for h in self._heaps.values() for due, _, _ in h if include_delayed or due <= now)
                if waiting == 0 and self.busy == 0:
                    return True
            time.sleep(0.02)
        return False

    def _next(self, group: str) -> Deferral | None:
        with self._cv:
            while not self._stop.is_set():
                heap = self._heaps[group]
                if heap and heap[0][0] <= time.monotonic():
                    self.busy += 1
                    return heapq.heappop(heap)[2]
                self._cv.wait(timeout=(heap[0][0] - time.monotonic()) if heap else 5.0)
        return None

    def _work(self, group: str) -> None:
        while (item := self._next(group)) is not None:
            try:
                run_task(self.app, item)
            except Exception:  # noqa: BLE001 — retried per the task's rules
                task = get_task(item.task)
                if item.attempt + 1 < task.max_attempts:
                    log.warning("task %s failed (attempt %d); retrying", item.task, item.attempt + 1, exc_info=True)
                    retry = Deferral(item.task, item.kwargs, task.wait(item.attempt), item.lock, item.attempt + 1)
                    self.defer([retry])
                else:
                    log.exception("task %s gave up after %d attempts", item.task, item.attempt + 1)
            finally:
                with self._cv:
                    self.busy -= 1

    def _schedule(self) -> None:
        from croniter import croniter

        crons = {s: croniter(self.app.config[SCHEDULE_CRON[s]], datetime.now(UTC)) for s in schedules()}
        due = {s: c.get_next(float) for s, c in crons.items()}
        while not self._stop.is_set():
            schedule = min(due, key=due.__getitem__)
            if self._stop.wait(max(0.0, due[schedule] - time.time())):
                return
            tick = int(due[schedule])
            due[schedule] = crons[schedule].get_next(float)
            try:
                run_schedule_once(self.app, schedule, tick)
            except Exception:  # noqa: BLE001 — the next period runs again
                log.exception("schedule %s failed", schedule)


def backend_name(app: Flask) -> str:
    backend = app.config.get("JOBS_BACKEND", "auto")
    if backend == "auto":
        return "procrastinate" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else "thread"
    return backend


def make_runner(app: Flask, backend: str | None = None):
    backend = backend or backend_name(app)
    if backend == "procrastinate":
        from program.jobs.pg import ProcrastinateRunner

        return ProcrastinateRunner(app)
    if backend == "thread":
        return ThreadRunner(app)
    if backend == "inline":
        return InlineRunner(app)
    raise ValueError(f"JOBS_BACKEND must be auto, procrastinate, thread or inline, not {backend!r}")
