"""Benchmarks: every figure beside the raw engine it sits on (`python -m bench`, `make bench`)."""
