"""Benchmarks: each result is printed beside a raw baseline measured in the same run."""
