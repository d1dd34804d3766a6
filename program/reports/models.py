"""ExportJob (a background export whose state lives in the database) and ExportAudit (every export, logged).

A job moves queued → running → done | failed; a done job's file (ExportFile, in the database, so any host
can serve it) is kept until ``expires_at`` and then deleted (state "expired"). A running job whose
``heartbeat_at`` goes stale was left by a dead worker and is queued again by the sweep.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import User
from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"

    @property
    def label(self) -> str:
        return {"csv": "CSV", "xlsx": "Excel (XLSX)", "pdf": "PDF"}[self.value]

    @property
    def mimetype(self) -> str:
        return {
            "csv": "text/csv; charset=utf-8",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "pdf": "application/pdf",
        }[self.value]


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return {
            "queued": "Waiting to start",
            "running": "Running",
            "done": "Ready",
            "failed": "Failed",
            "expired": "Expired",
        }[self.value]


class ExportJob(db.Model):
    __tablename__ = "export_job"
    __table_args__ = (Index("ix_export_job_state_heartbeat", "state", "heartbeat_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report: Mapped[str] = mapped_column(String(40), default="participation")
    kind: Mapped[str] = mapped_column(String(10))  # csv | xlsx | pdf
    filters_json: Mapped[str] = mapped_column(Text, default="{}")
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())  # "now" for the report: the moment it was asked for
    state: Mapped[str] = mapped_column(String(12), default=JobState.QUEUED.value)
    progress: Mapped[int] = mapped_column(default=0)  # 0–100
    message: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int | None] = mapped_column()
    rows: Mapped[int | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str] = mapped_column(String(100), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[User | None] = relationship()

    @property
    def filters(self) -> dict[str, Any]:
        return json.loads(self.filters_json or "{}")

    @property
    def format(self) -> ExportFormat:
        return ExportFormat(self.kind)

    @property
    def state_enum(self) -> JobState:
        return JobState(self.state)

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE.value, JobState.FAILED.value, JobState.EXPIRED.value)


class ExportFile(db.Model):
    """A finished export's bytes (bytea on PostgreSQL), kept until the job expires."""

    __tablename__ = "export_file"

    job_id: Mapped[int] = mapped_column(ForeignKey("export_job.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ExportAudit(db.Model):
    """Who exported what, when, with which filters. Written in the same transaction as the export starts."""

    __tablename__ = "export_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    report: Mapped[str] = mapped_column(String(40), default="participation")
    kind: Mapped[str] = mapped_column(String(10))
    filters_json: Mapped[str] = mapped_column(Text, default="{}")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("export_job.id", ondelete="SET NULL"))
    ip: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User | None] = relationship()
    job: Mapped[ExportJob | None] = relationship()

    @property
    def filters(self) -> dict[str, Any]:
        return json.loads(self.filters_json or "{}")

    @property
    def format(self) -> ExportFormat:
        return ExportFormat(self.kind)
