"""The speed benchmark's parts: each module measures a group of figures against floors it
measures in the same run (see `tests/benchmarks/bench_speed.py`)."""
