"""A check's findings as SARIF 2.1.0 (one result per Finding), for code-scanning tools."""

from __future__ import annotations

from typing import Any

from scalelab.results import Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def sarif(findings: list[Finding], version: str) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in findings:
        rules.setdefault(f.id, {"id": f.id, "name": f.id, "shortDescription": {"text": f.title},
                                "help": {"text": f.fix}})
        location: dict[str, Any] = {"artifactLocation": {"uri": f.evidence.file}}
        if f.evidence.lines:
            location["region"] = {"startLine": f.evidence.lines[0]}
        results.append({"ruleId": f.id, "level": LEVELS[f.severity],
                        "message": {"text": f"{f.title}: {f.evidence.value}" if f.evidence.value else f.title},
                        "locations": [{"physicalLocation": location}]})
    driver = {"name": "scalelab", "version": version, "rules": list(rules.values())}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}
