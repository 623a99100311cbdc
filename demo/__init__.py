"""The demo data generator: a tool that fills an empty database with realistic rows
(``python server.py --demo``, ``bench/generate.py``), not a behaviour of the API."""

from demo.generator import DemoSummary, fill_demo_data

__all__ = ["DemoSummary", "fill_demo_data"]
