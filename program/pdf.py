"""The one gateway to WeasyPrint: HTML in, PDF bytes out, fetching nothing but our own static files.

``html_to_pdf`` lays out one document; ``html_parts_to_pdf`` lays out a long one in parts, each freed before the
next, and lays the page furniture (running headers, "Page n of N") over the joined pages.

A PDF template links its stylesheet (and any image) relative to ``static/``; every other URL — another
folder, another host — is refused, so a value in the HTML can never make the server fetch something.
WeasyPrint's default font configuration is used (no web fonts are fetched). This module knows no domain.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable
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


def _write(html: str, root: Path, on_step: Callable[[str], None] | None) -> bytes:
    """One HTML document laid out and written by WeasyPrint; ``on_step`` hears its steps (from this thread)."""
    from weasyprint import HTML

    progress_log = logging.getLogger("weasyprint.progress")
    progress_log.propagate = False  # one line per page at INFO would flood the application log
    progress_log.setLevel(logging.INFO)  # the watchers hear the steps whatever the application's log level
    watcher = _StepWatcher(on_step) if on_step else None
    if watcher:
        progress_log.addHandler(watcher)
    try:
        document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=static_only_fetcher(root))
        return document.write_pdf()
    finally:
        if watcher:
            progress_log.removeHandler(watcher)


def _static_root(static_folder: str | Path | None) -> Path:
    return Path(static_folder if static_folder is not None else (current_app.static_folder or "static")).resolve()


def html_to_pdf(
    html: str, static_folder: str | Path | None = None, on_step: Callable[[str], None] | None = None
) -> bytes:
    """The PDF of ``html``. Relative URLs resolve against ``static_folder`` (the app's static folder unless
    given); ``on_step`` hears each WeasyPrint step (a long table takes a while)."""
    return _write(html, _static_root(static_folder), on_step)


LAYOUT_STEP = "Step 5 - Creating layout - Page "


def html_parts_to_pdf(
    parts: Iterable[str],
    furniture: Callable[[int], str] | None = None,
    static_folder: str | Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> bytes:
    """One PDF from HTML documents laid out one after another, each part starting on a new page.

    WeasyPrint keeps the whole layout of a document until it is written (about 130 KB per table row: a
    5,000-row table took 1.8 GB), so each part is laid out and written on its own and its layout freed before
    the next; the written pages are then joined (pypdf). Memory stays that of the largest part.

    ``furniture(n)``, if given, returns an HTML document of ``n`` empty pages carrying the running headers and
    footers (``counter(page)`` and ``counter(pages)`` count across every part there); its pages are laid over
    the parts' pages in order, so the parts leave their page margins empty. ``on_step`` hears WeasyPrint's
    layout steps as if it were one document ("Creating layout - Page n", n running on across the parts) and
    "Creating PDF" once, before the pages are joined.
    """
    from pypdf import PdfReader, PdfWriter

    root = _static_root(static_folder)
    writer = PdfWriter()
    info: dict[str, str] = {}
    for html in parts:
        done = len(writer.pages)

        def renumbered(message: str, done: int = done) -> None:
            if message.startswith(LAYOUT_STEP) and message[len(LAYOUT_STEP) :].isdigit():
                on_step(f"{LAYOUT_STEP}{done + int(message[len(LAYOUT_STEP) :])}")

        reader = PdfReader(io.BytesIO(_write(html, root, renumbered if on_step else None)))
        if not info and reader.metadata:
            info = {k: str(v) for k, v in reader.metadata.items() if k in ("/Title", "/Producer")}
        writer.append(reader, import_outline=True)
    if on_step:
        on_step("Step 6 - Creating PDF")
    if furniture is not None:
        overlay = PdfReader(io.BytesIO(_write(furniture(len(writer.pages)), root, None)))
        if len(overlay.pages) != len(writer.pages):
            raise RuntimeError(f"the page furniture has {len(overlay.pages)} pages for {len(writer.pages)}")
        for page, over in zip(writer.pages, overlay.pages, strict=True):
            page.merge_page(over)
            page.compress_content_streams()  # merging wrote the page's content out uncompressed
    if info:
        writer.add_metadata(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
