"""HR's participation report: rows per person, CSV streamed, XLSX and PDF as background export jobs, audit."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The reports front door: report pages, export jobs and their command (``flask run-export-jobs``)."""
    from program.reports import jobs, routes

    app.register_blueprint(routes.bp)
    app.cli.add_command(jobs.run_export_jobs_command)
