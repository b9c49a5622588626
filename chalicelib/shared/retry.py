"""Retrying a lost race: the one jittered back-off of every loop that starts a change again from
fresh state after a concurrent update (a request, a step of a big change, a job's item), or asks
again for what DynamoDB left unprocessed (the keys of a batch read it throttled).

A change that lost the race on a version or a counter is simply read and made again; the pause
before the next try is random (up to ``first * 2**losses``, the exponent capped) so contenders
that lost together do not collide again together. No loop pauses past the deadline of the unit
of work it runs in (:mod:`chalicelib.shared.deadline`): there it gives up, as on its last try.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from chalicelib.shared import deadline


class Contention:
    """The lost races of one loop: at most ``tries`` tries in all (None: no count, the deadline
    alone ends the loop), a jittered pause between them."""

    def __init__(self, tries: int | None, first: float = 0.002, cap: int = 6) -> None:
        self.tries, self.first, self.cap = tries, first, cap
        self.losses = 0

    def lost(self, before_pause: Callable[[int], object] | None = None) -> bool:
        """Count a lost race. False when it was the last try or the pause would end past the
        deadline (the caller gives up, raising what it chooses); else ``before_pause(losses)``, the
        pause, and True (try again)."""
        self.losses += 1
        if self.tries is not None and self.losses >= self.tries:
            return False
        pause = random.uniform(0, self.first * 2 ** min(self.losses, self.cap))
        if not deadline.allows(pause):
            return False
        if before_pause is not None:
            before_pause(self.losses)
        time.sleep(pause)
        return True
