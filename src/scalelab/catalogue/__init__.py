"""The catalogue of the report's issues: entries, rules, detectors, reproductions."""
