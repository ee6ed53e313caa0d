"""Speculative execution: inputs, sandboxed workers, comparison, timing, the trial loop."""
