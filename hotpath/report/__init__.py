"""Showing what hotpath tried and decided: terminal tables (and, later, HTML)."""
