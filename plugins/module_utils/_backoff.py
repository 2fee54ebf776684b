# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jittered exponential backoff, provider-neutral. FOR INTERNAL COLLECTION USE ONLY.

Used by ``change_gate`` between polls and by anything else that waits and retries (style.md F2).
It only computes delays; the caller sleeps, so tests never do.
"""

from __future__ import annotations

import random
import typing as t

from ._errors import ItsmValidationError


class Backoff:
    """Delays that start at ``delay``, grow by ``factor`` after each one and stop growing at ``max_delay``.

    Each delay is spread by up to ``jitter`` (a fraction, 0 to 1) either side of its nominal value, so
    many workers that started together (forks polling the same change) drift apart instead of hitting
    the backend in step. A jittered delay never exceeds ``max_delay``. ``attempts`` bounds how many
    delays are produced (None: endless, for waits bounded by a deadline instead). ``rng`` returns
    floats in [0, 1); tests pass a fixed one.

    Iterating gives an independent sequence each time; ``reset()`` restarts an iterator's growth,
    which a poller uses when it sees progress and wants to look again soon.
    """

    def __init__(self, delay: float, factor: float = 2.0, max_delay: float | None = None, jitter: float = 0.2,
                 attempts: int | None = None, rng: t.Callable[[], float] | None = None):
        if delay < 0:
            raise ItsmValidationError("delay", delay, "expected a number of seconds, 0 or more")
        if factor < 1:
            raise ItsmValidationError("factor", factor, "expected 1 or more (1 keeps the delay constant)")
        if not 0 <= jitter <= 1:
            raise ItsmValidationError("jitter", jitter, "expected a fraction between 0 and 1")
        if attempts is not None and attempts < 0:
            raise ItsmValidationError("attempts", attempts, "expected 0 or more")
        self.delay = float(delay)
        self.factor = float(factor)
        self.max_delay = max(float(max_delay), self.delay) if max_delay is not None else None
        self.jitter = float(jitter)
        self.attempts = attempts
        self.rng = rng or random.random

    def __iter__(self) -> "BackoffIterator":
        return BackoffIterator(self)

    def nominal(self, index: int) -> float:
        """The un-jittered delay before attempt ``index`` + 1 (index 0 is the first delay)."""
        value = self.delay * self.factor ** index if self.factor > 1 else self.delay
        return min(value, self.max_delay) if self.max_delay is not None else value

    def jittered(self, nominal: float) -> float:
        spread = nominal * self.jitter * (2 * self.rng() - 1)
        value = max(0.0, nominal + spread)
        return min(value, self.max_delay) if self.max_delay is not None else value


class BackoffIterator:
    """One run through a Backoff's delays."""

    def __init__(self, policy: Backoff):
        self.policy = policy
        self.index = 0
        self.produced = 0

    def __iter__(self) -> "BackoffIterator":
        return self

    def __next__(self) -> float:
        if self.policy.attempts is not None and self.produced >= self.policy.attempts:
            raise StopIteration
        nominal = self.policy.nominal(self.index)
        # Stop raising the exponent once the cap is reached: the value would not change and a long
        # wait would otherwise overflow float arithmetic.
        if self.policy.max_delay is None or nominal < self.policy.max_delay:
            self.index += 1
        self.produced += 1
        return self.policy.jittered(nominal)

    def reset(self) -> None:
        """Start growing again from the first delay (the attempt count is kept)."""
        self.index = 0
