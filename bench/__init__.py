"""Benchmark of crm-graph: data generator, HTTP load driver, raw-driver floor and report.

``python -m bench run --sizes S,M`` runs it all; docs/performance.md has the results.
"""
