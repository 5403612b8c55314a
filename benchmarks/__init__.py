"""Benchmark tooling: synthetic corpora and load generators."""
