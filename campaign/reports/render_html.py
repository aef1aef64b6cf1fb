"""The report as one self-contained HTML page (Jinja2, `templates/report.html.j2`), for the portal: the same
content and order as the PDF, charts embedded as data: URIs. Autoescape is on and the template marks nothing
safe, so text from district uploads (`<script>`, `&`) is shown, never interpreted."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from campaign.reports.model import Chart, Report
from campaign.reports.present import is_number, vn_number
from campaign.reports.render_pdf import chart_png_cached

__all__ = ["render_html"]

TEMPLATES = Path(__file__).with_name("templates")
TEMPLATE = "report.html.j2"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["vn"] = vn_number
    env.tests["numeric"] = is_number
    return env


def _chart_src(chart: Chart) -> str:
    return "data:image/png;base64," + base64.b64encode(chart_png_cached(chart)).decode("ascii")


def render_html(report: Report) -> str:
    """The report as an HTML document (UTF-8 text, lang="vi")."""
    return _environment().get_template(TEMPLATE).render(report=report, chart_src=_chart_src)
