"""A report as files: HTML (Jinja2), PDF (WeasyPrint, from that same HTML), and the tables
behind it as CSV and XLSX (openpyxl).

The PDF is the HTML printed by WeasyPrint rather than a second layout (e.g. ReportLab
drawing every table again): one template, so the two can never say different things, and
the charts are the same SVG in both. WeasyPrint lays out Chinese text through Pango and
embeds the subset of Noto Sans CJK it used, with its Unicode map, so the PDF's text can
be searched and extracted. The CSV is UTF-8 with a byte-order mark, which is what makes
Excel on a Chinese desktop open it without mojibake; its tables follow one another, each
under a line with its title and then its header row, separated by an empty line.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Font

from services.analytics.kpi import Figure
from services.analytics.reports.content import Report, Table

_ENV = Environment(loader=PackageLoader("services.analytics.reports", "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
         "csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE}


def value(fig: Figure | None, unit: str) -> str:
    """A figure as a person reads it: 95.24%, 1.75 小时, 8.50 秒, 12 件, or — without a
    base."""
    if fig is None or fig.value is None:
        return "—"
    match unit:
        case "%":
            return f"{fig.value:.2f}%"
        case "hours":
            return f"{fig.value:.2f} 小时"
        case "seconds":
            return f"{fig.value:.2f} 秒"
    return f"{int(fig.value)} 件"


def change(delta: float | None, unit: str) -> str:
    """The change from the previous period, in the figure's own terms."""
    if delta is None:
        return "—"
    sign = "+" if delta > 0 else ""
    match unit:
        case "%":
            return f"{sign}{delta:.2f} 个百分点"
        case "hours":
            return f"{sign}{delta:.2f} 小时"
        case "seconds":
            return f"{sign}{delta:.2f} 秒"
    return f"{sign}{int(delta)} 件"


def rate(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}%"


def base(fig: Figure) -> str:
    return f"{int(fig.numerator)}/{fig.denominator}" if fig.denominator else "—"


_ENV.filters.update(value=value, change=change, rate=rate, base=base)


def html(r: Report, charts: dict[str, str]) -> str:
    """The report as one self-contained HTML page (charts inline as SVG data URIs, so the
    file opens offline and in WeasyPrint without fetching anything)."""
    images = {name: "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
              for name, svg in charts.items()}
    return _ENV.get_template("report.html").render(
        r=r, charts=images, best_reply=r.ranked("reply", True),
        worst_reply=r.ranked("reply", False), best_sat=r.ranked("satisfaction", True),
        worst_sat=r.ranked("satisfaction", False))


def pdf(page: str) -> bytes:
    """The HTML printed to PDF (A4). Slow-ish (a second or two): run it off the loop."""
    from weasyprint import HTML  # imported here: Pango is loaded only by who prints

    return bytes(HTML(string=page).write_pdf())


def _cell(v: Any) -> Any:
    return "" if v is None else v


def to_csv(tables: Iterable[Table]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for i, t in enumerate(tables):
        if i:
            writer.writerow([])
        writer.writerow([f"# {t.title_zh}"])
        writer.writerow(t.headers)
        writer.writerows([[_cell(v) for v in row] for row in t.rows])
    return out.getvalue().encode("utf-8-sig")


def from_csv(data: bytes) -> dict[str, list[list[str]]]:
    """The tables of a report's CSV by title (header row first): what `to_csv` wrote."""
    found: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
        if not row:
            current = None
        elif current is None and len(row) == 1 and row[0].startswith("# "):
            current = found.setdefault(row[0][2:], [])
        elif current is not None:
            current.append(row)
    return found


def to_xlsx(r: Report) -> bytes:
    """One sheet per table, titled in Chinese, header in bold; numbers stay numbers."""
    book = Workbook()
    if book.active is not None:  # the default empty sheet
        book.remove(book.active)
    book.properties.title = r.title
    for t in r.tables:
        sheet = book.create_sheet(t.title_zh[:31])
        sheet.append(t.headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in t.rows:
            sheet.append([_cell(v) for v in row])
        for i, h in enumerate(t.headers, start=1):
            width = max([len(str(h)) * 2, *(len(str(row[i - 1])) + 2 for row in t.rows[:50])])
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(width, 60)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
