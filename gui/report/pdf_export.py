"""Print the HTML report to PDF with Qt's rich-text engine (QTextDocument + QPdfWriter; no web engine).

The report is laid out on a page REPORT_PAGE_WIDTH px wide (its widest pictures fit) and scaled onto A4,
so nothing is cut at the right edge; big sections start a new page (the HTML asks for it)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument

from core.io.atomic import write_atomic

PDF_REPORT = "report.pdf"
REPORT_PAGE_WIDTH = 1000.0
A4_RATIO = 297 / 210
MARGIN_MM = 12


def html_to_pdf(html: str, path: str | Path, title: str = "SegLab report") -> Path:
    """Write `html` (images embedded as data URIs) as a PDF, atomically. Needs a QGuiApplication."""
    path = Path(path)
    document = QTextDocument()
    document.setHtml(html)
    document.setPageSize(QSizeF(REPORT_PAGE_WIDTH, REPORT_PAGE_WIDTH * A4_RATIO))

    def write(tmp: Path) -> None:
        writer = QPdfWriter(str(tmp))
        writer.setTitle(title)
        writer.setCreator("SegLab")
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageMargins(QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM), QPageLayout.Unit.Millimeter)
        document.print_(writer)

    write_atomic(path, write)
    return path
