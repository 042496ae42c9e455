"""Text from outside (workbook cells, file names) made safe where it leaves xlsxcheck.

- ``printable``: a file name of any bytes (non-UTF-8 names arrive as lone surrogates through
  Python's surrogateescape) with each undecodable byte shown as ``\\xNN``: every output stays
  valid UTF-8, and the name still says which file it was.
- ``for_terminal``: also control and escape characters (ESC, CSI, OSC, BEL, CR, NUL, …) and the
  bidirectional overrides shown as ``\\x1b``, ``\\u202e``: a cell cannot clear the screen,
  move the cursor, forge a hyperlink or reorder a line of the text report.
- ``for_csv``: also a leading ``= + - @`` tab or CR escaped with a quote (OWASP, CSV
  injection): a cell Excel would run as a formula stays text. Plain numbers are left alone.
"""

from __future__ import annotations

import re

__all__ = ["printable", "for_terminal", "for_csv"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9][0-9,]*(?:\.[0-9]+)?%?")


def _escape(m: re.Match) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    return _SURROGATE.sub(_escape, text) if _SURROGATE.search(text) else text


def for_terminal(text: str) -> str:
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def for_csv(text: str) -> str:
    text = for_terminal(text)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
