"""Did-you-mean for a mistyped name: a field of the spec, a scenario, a command, an id."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable

from pydantic import BaseModel


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation may hold (through Optional, unions, tuples, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out += _models_in(arg)
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            out += _models_in(arg)
    return out


def field_choices(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names allowed at the parent of ``loc`` (the location of an unknown field)."""
    models = [root]
    for part in loc[:-1]:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            continue  # a list index: same models
        nxt: list[type[BaseModel]] = []
        for model in models:
            if isinstance(part, str) and part in model.model_fields:
                nxt += _models_in(model.model_fields[part].annotation)
            else:
                # a tagged union's discriminator value (``deploy``) names the member model
                nxt += [model] if getattr(model.model_fields.get("kind"), "annotation", None) is not None and \
                    part in typing.get_args(model.model_fields["kind"].annotation) else []
        models = nxt or models
    names: set[str] = set()
    for model in models:
        names |= set(model.model_fields)
    return sorted(names)
