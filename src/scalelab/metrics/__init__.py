"""Measurements: the recorder and the end-of-run summaries."""
