"""Crewbot's benchmark harness: `python -m bench.run [--quick] [--out docs/PERFORMANCE.md]`."""
