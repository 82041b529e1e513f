"""Pieces of the loop benchmark (``benchmarks/loop.py``): the bus limit, the platform as processes, the
workload, and the embedded figure."""
