"""The written self-evaluation report (自评报告) checked against its own tables.

    document.py    reading .docx (python-docx) and text PDFs (pdfplumber) into paragraphs
    statements.py  the figures a report states, by the patterns of rules/checks_report.yaml
    check.py       pairing reports with workbooks, comparing statements, structure checks
    annotate.py    a .docx copy with a Word comment on each contradicting sentence


The package stays light (no pandas) where the parent process uses it: the pipeline imports
check.py only when a run has report files, to pair and collect them; the reports are read and
compared in the worker processes, where check.py loads pandas to compare statements.
"""

from .document import ReportSummary, take_report_candidates

__all__ = ["ReportSummary", "take_report_candidates"]
