"""HR's participation report: rows per person, CSV streamed, XLSX and PDF as background export jobs, audit."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The reports front door: report pages; the export task (``exports`` queue), its sweep and the hourly
    purge of expired files; ``flask run-export-jobs`` for cron users."""
    from program import jobs as engine
    from program.reports import jobs, routes, worker

    app.register_blueprint(routes.bp)
    app.cli.add_command(jobs.run_export_jobs_command)
    engine.register_task(jobs.EXPORT_TASK, worker.run_export, queue="exports", max_attempts=3, backoff=10)
    engine.register_job("export jobs queued again", jobs.sweep, schedule="sweep")
    engine.register_job("expired export files deleted", jobs.purge_expired, schedule="hourly")
