"""Where a size-dependent entry starts to matter, as the model says (the generated table).

``onsets.json`` beside this module is written by ``scalelab onsets --write`` (module
``scalelab.onsets``): each size-dependent entry's reproduction, broken, run at every size of a
ladder, and the first size at which its detector fires and does harm (its ``harm``, when it
has one). ``scalelab check`` reads it to say from which size a finding matters; the
acceptance regenerates it and fails when it differs (a model change that moves an onset must
update the table in the same commit). A null onset: the model does not show the harm at any
size tried, which ``check`` says as such (the gaps ``scalelab reproduce`` explains).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

TABLE_FILE = "onsets.json"


@dataclass(frozen=True)
class Onset:
    """One entry's row: the sizes run (Kubernetes nodes), what each showed, the onset."""

    entry: str
    sizes: tuple[int, ...]
    detected: tuple[bool, ...]
    harmful: tuple[bool, ...]

    @property
    def onset(self) -> int | None:
        """The smallest size from which every larger size tried does harm (None: the
        largest size tried does none)."""
        start = None
        for size, harm in zip(reversed(self.sizes), reversed(self.harmful), strict=True):
            if not harm:
                break
            start = size
        return start

    @property
    def monotone(self) -> bool:
        """No harm at a size below one that showed none: what reading an onset assumes."""
        seen_harm = False
        for harm in self.harmful:
            if seen_harm and not harm:
                return False
            seen_harm = seen_harm or harm
        return True

    @property
    def largest(self) -> int:
        return self.sizes[-1]

    def json(self) -> dict[str, Any]:
        return {"sizes": list(self.sizes), "detected": list(self.detected), "harmful": list(self.harmful),
                "onset": self.onset, "monotone": self.monotone}

    def says(self) -> str:
        """What a finding adds: where the model shows the harm."""
        if self.onset is None:
            return (f"the model shows no harm up to {self.largest} nodes (sizes run: "
                    f"{', '.join(map(str, self.sizes))}; `scalelab reproduce {self.entry}` says what it lacks)")
        sizes = ", ".join(map(str, self.sizes))
        if self.onset == self.sizes[0]:
            return f"the model shows harm at every size run, the smallest {self.onset} nodes (sizes run: {sizes})"
        return f"the model shows harm from {self.onset} nodes (sizes run: {sizes})"


def parse(doc: dict[str, Any]) -> dict[str, Onset]:
    return {entry: Onset(entry, tuple(row["sizes"]), tuple(row["detected"]), tuple(row["harmful"]))
            for entry, row in doc["entries"].items()}


@cache
def table() -> dict[str, Onset]:
    """The committed table (empty when it was never generated)."""
    source = resources.files("scalelab.catalogue").joinpath(TABLE_FILE)
    if not source.is_file():
        return {}
    return parse(json.loads(source.read_text(encoding="utf-8")))
