"""Benchmarks from local files: GSM8K-format math, HumanEval-format code, multiple choice."""
