"""Kubernetes YAML (multi-document, ``List``/``PodList``/``NodeList`` too) -> typed objects.

Ordinary manifests hold more than the scheduler reads: kinds it does not schedule (Service,
ConfigMap, a custom resource, ...) are skipped with a note. An error or a note names the file,
the document's number (from 1, as an editor counts), its line and the field path, on one line:
``nodes.yaml: document 2 (line 14): spec.taints.0.effect: Input should be 'NoSchedule', ...``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Located:
    """An object and where it was written (``document 3 (line 41)``, with ``items.N`` inside a list)."""

    obj: Any
    where: str


def _document_lines(text: str) -> list[tuple[int, list[int]]]:
    """Per document: its first line, and the first line of each entry of a top-level ``items``."""
    out: list[tuple[int, list[int]]] = []
    for node in yaml.compose_all(text, Loader=yaml.CSafeLoader):
        if node is None:
            out.append((0, []))
            continue
        items: list[int] = []
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
                    items = [child.start_mark.line + 1 for child in value.value]
        out.append((node.start_mark.line + 1, items))
    return out


def _documents(path: Path) -> list[tuple[Any, int, list[int]]]:
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
        docs = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        lines = _document_lines(text)
        return [(doc, *lines[i]) if i < len(lines) else (doc, 0, []) for i, doc in enumerate(docs)]
    except UnicodeDecodeError:
        raise KubeYamlError(source, ["not UTF-8 text"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise KubeYamlError(source, [f"{where}malformed YAML ({getattr(exc, 'problem', None) or exc})"]) from None


def load_objects(path: Path) -> list[Any]:
    """Every object the scheduler reads, in order; all errors of the file at once."""
    return [located.obj for located in load_located(path)[0]]


def load_located(path: Path) -> tuple[list[Located], list[str]]:
    """Every object the scheduler reads with where it stands, and notes on what was skipped."""
    objects: list[Located] = []
    problems: list[str] = []
    notes: list[str] = []
    for index, (doc, line, item_lines) in enumerate(_documents(path), start=1):
        if doc is None:
            continue
        is_list = isinstance(doc, dict) and isinstance(doc.get("kind"), str) and doc["kind"].endswith("List") \
            and isinstance(doc.get("items"), list)
        items = doc["items"] if is_list else [doc]
        for sub, item in enumerate(items):
            at = item_lines[sub] if is_list and sub < len(item_lines) else line
            where = f"document {index} (line {at})" + (f": items.{sub}" if is_list else "")
            if not isinstance(item, dict):
                problems.append(f"{where}: expected a mapping")
                continue
            kind = item.get("kind")
            if kind not in KINDS:
                close = difflib.get_close_matches(str(kind), KINDS, n=1, cutoff=0.75) if isinstance(kind, str) else []
                if close or not isinstance(kind, str):
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    problems.append(f"{where}: kind: unknown kind {kind!r}{hint}")
                else:
                    notes.append(f"{path}: {where}: skipped {kind} (the scheduler places {', '.join(KINDS)})")
                continue
            try:
                objects.append(Located(_ADAPTER.validate_python(item), where))
            except ValidationError as err:
                problems += [f"{where}: {_path(tuple(e['loc']))}: {e['msg']}" for e in err.errors()]
    if problems:
        raise KubeYamlError(str(path), problems)
    return objects, notes
