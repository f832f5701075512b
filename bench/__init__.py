"""Benchmarks of the engine, run by `make bench` (python -m bench [--json PATH]).

Every number is printed next to a baseline measured in the same run on the same
machine, as a ratio: absolute speeds depend on the machine and its load, ratios much
less. Nothing here fails on a threshold; the numbers are for a person to read.
"""
