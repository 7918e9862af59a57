"""Reading untrusted files: size, encoding and YAML limits, and YAML with line numbers.

A file larger than ``MAX_BYTES``, holding NUL bytes or not UTF-8 is *unreadable* (reported per
file, never a traceback). YAML is composed with PyYAML's C loader when present into nodes that
keep their line; unknown tags (``!vault``, ``!include``) compose as plain nodes whose values the
importers report as unknown; a document with more than ``MAX_ALIASES`` aliases (a YAML bomb) or
nested deeper than Python's recursion allows is unreadable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 50 * 2**20
#: YAML and nginx syntax trees cost ~60 bytes of memory per byte of text: a deployment file of
#: that kind is far smaller than this (a 49 MiB YAML took 37 s and 2.9 GiB to compose)
MAX_TREE_BYTES = 8 * 2**20
MAX_ALIASES = 100
Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.SafeLoader("")


class Unreadable(Exception):  # noqa: N818 (a per-file verdict, not a program error)
    """Why a file cannot be read."""


def read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise Unreadable(f"larger than {MAX_BYTES // 2**20} MiB ({size} bytes)")
    data = path.read_bytes()
    if b"\0" in data:
        raise Unreadable("binary (NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Unreadable(f"not UTF-8 (byte {error.start})") from None


def _count_aliases(node: yaml.Node, seen: set[int]) -> int:
    """Aliases in a composed graph: a node reached again is one (PyYAML shares aliased nodes)."""
    count, stack = 0, [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            count += 1
            if count > MAX_ALIASES:
                raise Unreadable(f"more than {MAX_ALIASES} YAML aliases (a YAML bomb?)")
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in current.value for n in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return count


def compose_all(text: str) -> list[yaml.Node]:
    """Every document of a YAML stream as nodes (line numbers kept)."""
    if len(text) > MAX_TREE_BYTES:
        raise Unreadable(f"larger than {MAX_TREE_BYTES // 2**20} MiB for a YAML or nginx file")
    try:
        nodes = [n for n in yaml.compose_all(text, Loader=Loader) if n is not None]
    except yaml.YAMLError as error:
        raise Unreadable(f"not YAML: {str(error).splitlines()[0]}") from None
    except RecursionError:
        raise Unreadable("YAML nested too deep") from None
    seen: set[int] = set()
    for node in nodes:
        _count_aliases(node, seen)
    return nodes


def line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def get(node: yaml.Node | None, *keys: str) -> yaml.Node | None:
    """The node at ``keys`` in nested mappings, or None."""
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
    return node


def key_line(node: yaml.Node | None, key: str) -> int | None:
    """The line of ``key`` in a mapping (where a block under it starts)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((line(k) for k, _v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def scalar(node: yaml.Node | None) -> Any:
    """A scalar node's value as YAML types it (None for anything else or an unknown tag)."""
    if not isinstance(node, yaml.ScalarNode) or not node.tag.startswith("tag:yaml.org,2002:"):
        return None
    return _CONSTRUCTOR.construct_object(node)


def keys(node: yaml.Node | None) -> list[str]:
    if not isinstance(node, yaml.MappingNode):
        return []
    return [k.value for k, _v in node.value if isinstance(k, yaml.ScalarNode)]


def is_template(value: Any) -> bool:
    """A Jinja expression left unrendered: its value is unknown, not guessed."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


__all__ = ["MAX_BYTES", "MAX_TREE_BYTES", "Unreadable", "compose_all", "get", "is_template", "key_line", "keys", "line",
           "read_text", "scalar"]
