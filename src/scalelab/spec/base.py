"""What every spec section shares: frozen, strict models and the duration types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from scalelab.spec.units import Duration

PositiveDuration = Annotated[Duration, Field(gt=0)]
NonNegativeDuration = Annotated[Duration, Field(ge=0)]


class Section(BaseModel):
    """Base of every spec section: frozen, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")
