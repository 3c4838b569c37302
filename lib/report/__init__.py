"""The HTML report: charts and the page around them (no Spark; jobs/core/report.py reads the lake)."""
