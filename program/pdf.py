"""The one gateway to WeasyPrint: an HTML string in, PDF bytes out, fetching nothing but our own static files.

A PDF template links its stylesheet (and any image) relative to ``static/``; every other URL — another
folder, another host — is refused, so a value in the HTML can never make the server fetch something.
WeasyPrint's default font configuration is used (no web fonts are fetched). This module knows no domain.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.request import url2pathname

from flask import current_app


def static_only_fetcher(static_folder: str | Path):
    """A WeasyPrint URL fetcher that serves files under ``static_folder`` and refuses every other URL."""
    from weasyprint.urls import URLFetcher

    root = Path(static_folder).resolve()

    class StaticOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("file:"):
                path = Path(url2pathname(url.split("?")[0].removeprefix("file:"))).resolve()
                if path.is_relative_to(root) and path.is_file():
                    return super().fetch(url, headers)
            raise ValueError(f"not fetched (only static files are): {url}")

    return StaticOnly(allowed_protocols=("file",), allow_redirects=False)


class _StepWatcher(logging.Handler):
    """Passes WeasyPrint's progress messages ("Step 5 - Creating layout - Page 3") of THIS thread on."""

    def __init__(self, on_step: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.on_step = on_step
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.on_step(record.getMessage())


def html_to_pdf(
    html: str, static_folder: str | Path | None = None, on_step: Callable[[str], None] | None = None
) -> bytes:
    """The PDF of ``html``. Relative URLs resolve against ``static_folder`` (the app's static folder unless
    given); ``on_step`` hears each WeasyPrint step (a long table takes a while)."""
    from weasyprint import HTML

    root = Path(static_folder if static_folder is not None else (current_app.static_folder or "static")).resolve()
    progress_log = logging.getLogger("weasyprint.progress")
    watcher = _StepWatcher(on_step) if on_step else None
    if watcher:
        progress_log.addHandler(watcher)
    progress_log.propagate = False  # one line per page at INFO would flood the application log
    try:
        document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=static_only_fetcher(root))
        return document.write_pdf()
    finally:
        if watcher:
            progress_log.removeHandler(watcher)
