"""``bench report``: the results as a static site (``site.py``), with failure galleries read from
the per-query rankings (``outcomes.py``) and rendered by ``html.py``."""

from bench.report.site import ReportSummary, build_report

__all__ = ["ReportSummary", "build_report"]
