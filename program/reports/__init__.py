"""HR's participation report: rows per person, CSV streamed, XLSX and PDF as background export jobs, audit."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The reports front door: report pages, export jobs and their command."""
    from program.reports import routes
    from program.reports.jobs import register_export_cli

    app.register_blueprint(routes.bp)
    register_export_cli(app)  # flask run-export-jobs
