"""``bench report``: the results as a static site (``site.py``), with failure galleries read from
the per-query rankings (``outcomes.py``), rendered by ``html.py``, and the Chinese glyphs the
pages use shipped with them (``fonts.py``)."""

from bench.views.report.site import ReportSummary, build_report

__all__ = ["ReportSummary", "build_report"]
