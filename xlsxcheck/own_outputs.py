"""Workbooks xlsxcheck wrote itself, recognised so that the next run does not take them for filings.

Every workbook xlsxcheck writes carries the custom document property ``xlsxcheck-output``
(``rollup`` or ``annotated-copy``). An annotated copy also names its findings sheet
(``xlsxcheck-findings-sheet``) and carries a digest of its workbook parts as written
(``xlsxcheck-content``): a copy still as written is an output, while a copy a unit has
corrected and saved again (Excel, WPS and openpyxl keep custom properties, but rewrite the
parts) is a filing, checked without its findings sheet.

Only docProps/custom.xml is read (bounded in size, parsed with defusedxml); a file that is
not a readable zip is simply not an output here; the reader reports what is wrong with it.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
from pathlib import Path

__all__ = ["OUTPUT_PROPERTY", "own_output_kind", "own_properties", "is_untouched_copy", "findings_sheet", "seal_copy", "SHEET_PROPERTY"]

OUTPUT_PROPERTY = "xlsxcheck-output"
SHEET_PROPERTY = "xlsxcheck-findings-sheet"
CONTENT_PROPERTY = "xlsxcheck-content"
_CUSTOM_PART = "docProps/custom.xml"
_MAX_CUSTOM_BYTES = 256 * 1024  # a custom.xml holds a few short properties
_MAX_CONTENT_BYTES = 64 * 1024 * 1024  # the digest of a copy reads its parts; bounded like the reader
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_DIRECTORY_BYTES = 4 * 1024 * 1024


def _properties(zf: zipfile.ZipFile) -> dict[str, str]:
    from defusedxml import ElementTree as ET

    try:
        info = zf.getinfo(_CUSTOM_PART)
    except KeyError:
        return {}
    if info.file_size > _MAX_CUSTOM_BYTES:
        return {}
    root = ET.fromstring(zf.read(info))
    out = {}
    for prop in root:
        name = prop.get("name", "")
        if name.startswith("xlsxcheck-") and len(prop):
            out[name] = (prop[0].text or "").strip()
    return out


def own_properties(source: str | os.PathLike | bytes) -> dict[str, str]:
    """The ``xlsxcheck-*`` custom properties of a workbook (a path or its bytes); {} when it
    has none or cannot be read."""
    try:
        if isinstance(source, bytes):
            if not source.startswith(_ZIP_MAGIC):
                return {}
            with zipfile.ZipFile(io.BytesIO(source)) as zf:
                return _properties(zf)
        with open(source, "rb") as fh:
            if fh.read(4) != _ZIP_MAGIC or not _lists_custom_part(fh):
                return {}
            fh.seek(0)
            with zipfile.ZipFile(fh) as zf:
                return _properties(zf)
    except Exception:  # broken zip, entities refused by defusedxml, ...: not ours
        return {}


def _lists_custom_part(fh) -> bool:
    """Whether the zip's central directory names docProps/custom.xml, read from its end
    record without parsing every entry (zipfile takes ~1 ms a workbook, this ~0.05 ms):
    discovery asks it of every file, and most filings have no custom properties."""
    size = fh.seek(0, 2)
    for window in (min(size, 1024), min(size, 22 + 65535)):  # the end record, and the longest zip comment
        fh.seek(size - window)
        tail = fh.read(window)
        end = tail.rfind(b"PK\x05\x06")
        if end >= 0:
            break
    if end < 0 or end + 22 > len(tail):
        return True  # zip64 or damaged: let zipfile decide
    cd_size, cd_offset = struct.unpack("<II", tail[end + 12:end + 20])
    if cd_size > _MAX_DIRECTORY_BYTES or cd_offset + cd_size > size:
        return True
    fh.seek(cd_offset)
    return _CUSTOM_PART.encode() in fh.read(cd_size)


def own_output_kind(path: str | os.PathLike) -> str | None:
    """``rollup`` or ``annotated-copy`` for a workbook xlsxcheck wrote, else None."""
    return own_properties(path).get(OUTPUT_PROPERTY) or None


def findings_sheet(data: bytes) -> str | None:
    """The findings sheet an annotated copy added (to be left out when it is read as a filing)."""
    if b"docProps/custom.xml" not in data:  # cheap: most filings have no custom properties
        return None
    props = own_properties(data)
    return props.get(SHEET_PROPERTY) if props.get(OUTPUT_PROPERTY) == "annotated-copy" else None


def _digest(zf: zipfile.ZipFile) -> str:
    """Digest of the workbook parts (xl/…); docProps are left out, they hold the digest."""
    h = hashlib.sha256()
    total = 0
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        if info.filename.startswith("xl/"):
            total += info.file_size
            if total > _MAX_CONTENT_BYTES:
                return ""
            h.update(info.filename.encode() + b"\0" + zf.read(info) + b"\0")
    return h.hexdigest()


def is_untouched_copy(path: str | os.PathLike) -> bool:
    """True for an annotated copy whose workbook parts are still exactly as xlsxcheck wrote them."""
    try:
        with zipfile.ZipFile(path) as zf:
            props = _properties(zf)
            if props.get(OUTPUT_PROPERTY) != "annotated-copy" or not props.get(CONTENT_PROPERTY):
                return False
            return _digest(zf) == props[CONTENT_PROPERTY]
    except Exception:
        return False


def seal_copy(data: bytes) -> bytes:
    """An annotated copy as openpyxl saved it (with its xlsxcheck properties set), with the
    digest of its workbook parts added to its custom properties."""
    from openpyxl.packaging.custom import CustomPropertyList, StringProperty
    from openpyxl.xml.functions import fromstring, tostring

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        custom = CustomPropertyList.from_tree(fromstring(zf.read(_CUSTOM_PART)))
        custom.append(StringProperty(name=CONTENT_PROPERTY, value=_digest(zf)))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in zf.infolist():
                dst.writestr(info, tostring(custom.to_tree()) if info.filename == _CUSTOM_PART else zf.read(info))
    return out.getvalue()
