"""What the importers read: spec values with where each came from (issue: ``scalelab check``).

An importer reads one file into an ``Imported``: values by dotted spec path, each with its
``Source`` (the file and the lines that set it). A setting the file would hold but does not is
recorded as *absent* (its source has no value): the upstream default applies, and a finding on
it names the file with ``lines`` null, as CONTRACTS.md's Finding says. Template expressions and
tags the importer cannot read are *unknown*: listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

UNKNOWN_WHY = "a template expression or an unknown tag"


@dataclass(frozen=True)
class Source:
    """Where a setting was found (``lines``) or would be (``lines`` None: absent)."""

    file: str
    lines: tuple[int, ...] | None = None


@dataclass
class FileRead:
    """One file as CONTRACTS.md's ``files`` lists it."""

    path: str
    kind: str
    values_read: int = 0
    unreadable: str | None = None

    def json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "values_read": self.values_read, "unreadable": self.unreadable}


@dataclass
class Imported:
    """Values read from files, by spec path, with their sources."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, list[Source]] = field(default_factory=dict)
    unknown: dict[str, Source] = field(default_factory=dict)
    files: list[FileRead] = field(default_factory=list)
    #: facts that decide a value only across files (static pods' folders, inventory groups)
    facts: dict[str, Any] = field(default_factory=dict)
    #: why an unknown value could not be read (by spec path)
    why: dict[str, str] = field(default_factory=dict)

    def put(self, path: str, value: Any, file: str, lines: list[int] | tuple[int, ...]) -> None:
        """A setting read from ``file`` at ``lines``."""
        self.values[path] = value
        self.sources.setdefault(path, []).append(Source(file, tuple(sorted(set(lines))) or None))

    def absent(self, path: str, file: str, lines: list[int] | tuple[int, ...] = ()) -> None:
        """A setting ``file`` would hold and does not (``lines``: the block it would be in, if
        the finding should point there)."""
        self.sources.setdefault(path, []).append(Source(file, tuple(sorted(set(lines))) or None))

    def not_readable(self, path: str, file: str, line: int, why: str = UNKNOWN_WHY) -> None:
        """A value the importer cannot read (a template expression, an unknown tag, a value not
        of the setting's form)."""
        self.unknown[path] = Source(file, (line,))
        self.why[path] = why

    def put_parsed(self, path: str, raw: Any, convert: Callable[[Any], Any], file: str, line: int) -> bool:
        """A setting read through ``convert``; a raw value not of its form is unknown (with
        why), never a crash: files are untrusted."""
        try:
            value = convert(raw)
        except (ValueError, TypeError, ArithmeticError) as error:
            self.not_readable(path, file, line, f"{raw!r} is not of this setting's form ({error})")
            return False
        self.put(path, value, file, [line])
        return True

    def unknown_json(self) -> list[dict[str, Any]]:
        return [{"path": path, "file": source.file, "line": (source.lines or (None,))[0],
                 "why": self.why.get(path, UNKNOWN_WHY)}
                for path, source in sorted(self.unknown.items())]

    def merge(self, other: Imported) -> None:
        self.values.update(other.values)
        for path, sources in other.sources.items():
            self.sources.setdefault(path, []).extend(sources)
        self.unknown.update(other.unknown)
        self.why.update(other.why)
        self.files.extend(other.files)
        for key, value in other.facts.items():
            self.facts.setdefault(key, []).extend(value)


__all__ = ["FileRead", "Imported", "Source"]
