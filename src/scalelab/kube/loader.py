"""Kubernetes YAML (multi-document, ``kind: List`` too) -> typed objects, errors with paths.

An error names the file, the document's index (from 0) and the field path, on one line:
``nodes.yaml: document 2: spec.taints.0.effect: Input should be 'NoSchedule', ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from scalelab.kube.objects import KINDS, KubeObject
from scalelab.spec.loader import MAX_ALIASES, MAX_FILE_BYTES, ScenarioError

_ADAPTER: TypeAdapter[Any] = TypeAdapter(KubeObject)


class KubeYamlError(ScenarioError):
    """Bad Kubernetes YAML: a user mistake (exit 2)."""


def _path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in KINDS:
        parts = parts[1:]  # the discriminator's tag
    return ".".join(parts) or "(document)"


def _documents(path: Path) -> list[Any]:
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KubeYamlError(source, [f"cannot read file ({exc.strerror or exc})"]) from None
    if len(data) > 16 * MAX_FILE_BYTES:
        raise KubeYamlError(source, ["file too large"])
    if b"\x00" in data:
        raise KubeYamlError(source, ["binary file, expected YAML"])
    try:
        text = data.decode("utf-8")
        aliases = sum(1 for ev in yaml.parse(text, Loader=yaml.CSafeLoader) if isinstance(ev, yaml.AliasEvent))
        if aliases > MAX_ALIASES * 16:
            raise KubeYamlError(source, [f"{aliases} YAML aliases"])
        return list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    except UnicodeDecodeError:
        raise KubeYamlError(source, ["not UTF-8 text"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise KubeYamlError(source, [f"{where}malformed YAML ({getattr(exc, 'problem', None) or exc})"]) from None


def load_objects(path: Path) -> list[Any]:
    """Every object of a file, in order; all errors of the file at once."""
    objects: list[Any] = []
    problems: list[str] = []
    for index, doc in enumerate(_documents(path)):
        if doc is None:
            continue
        items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        for sub, item in enumerate(items or []):
            where = f"document {index}" + (f": items.{sub}" if doc is not item else "")
            if not isinstance(item, dict):
                problems.append(f"{where}: expected a mapping")
                continue
            kind = item.get("kind")
            if kind not in KINDS:
                problems.append(f"{where}: kind: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
                continue
            try:
                objects.append(_ADAPTER.validate_python(item))
            except ValidationError as err:
                problems += [f"{where}: {_path(tuple(e['loc']))}: {e['msg']}" for e in err.errors()]
    if problems:
        raise KubeYamlError(str(path), problems)
    return objects
