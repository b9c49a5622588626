"""Field types and the base model that every request schema shares."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from chalicelib.shared.clock import checked_instant

Instant = Annotated[datetime, AfterValidator(checked_instant)]
"""A client-supplied point in time: time-zoned, 1971-2199, normalised to UTC."""


class Strict(BaseModel):
    """Request bodies and queries: unknown fields are refused, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
