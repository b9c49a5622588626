"""Field types that every request schema shares."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from chalicelib.shared.clock import checked_instant

Instant = Annotated[datetime, AfterValidator(checked_instant)]
"""A client-supplied point in time: time-zoned, 1971-2199, normalised to UTC."""
