"""Spreadsheet safety for every export (CSV, XLSX): cells a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: object) -> object:
    """A text cell a spreadsheet would read as a formula (it starts with = + - @ tab or CR) gets a
    leading single quote, so it is shown as text. Other values pass through unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
