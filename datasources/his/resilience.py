"""Keeping a slow or failing upstream from slowing down or failing our answers: a deadline per
request, bounded retries of idempotent reads, and a circuit breaker per upstream.

The breaker and the deadline read a monotonic clock that tests replace with a fake one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

logger = logging.getLogger("hospital_bff.his")

Monotonic = Callable[[], float]


class HisUnavailable(Exception):
    """The HIS could not answer in time (down, slow, erroring, circuit open). The message says
    why in a few words and never carries patient data."""


class CircuitOpen(HisUnavailable):
    def __init__(self, upstream: str) -> None:
        super().__init__(f"circuit open for {upstream}")


class DeadlineExceeded(HisUnavailable):
    def __init__(self) -> None:
        super().__init__("deadline exceeded")


@dataclass(frozen=True)
class Deadline:
    """An instant on the monotonic clock by which an answer is needed."""

    at: float
    clock: Monotonic = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Monotonic = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0


@dataclass(frozen=True)
class RetryPolicy:
    """Idempotent reads are tried `retries` more times after a failure, waiting `backoff` × 2^n
    between attempts, each attempt given at most `attempt_timeout` (and never past the deadline)."""

    attempt_timeout: float = 1.0
    retries: int = 2
    backoff: float = 0.05

    def pause(self, attempt: int) -> float:
        return self.backoff * (2 ** (attempt - 1))


class BreakerState(StrEnum):
    CLOSED = "CLOSED"  # calls go through
    OPEN = "OPEN"  # calls fail at once, until the cool-down has passed
    HALF_OPEN = "HALF_OPEN"  # one trial call goes through; its outcome closes or reopens the circuit


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failed attempts; after `reset_after` seconds one
    trial call is let through. While open, callers get `CircuitOpen` at once instead of waiting."""

    def __init__(
        self, upstream: str, *, failure_threshold: int = 5, reset_after: float = 30.0, clock: Monotonic = time.monotonic
    ) -> None:
        self.upstream = upstream
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started: float | None = None

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_after:
            return BreakerState.HALF_OPEN
        return self._state

    def before_call(self) -> None:
        """Raises CircuitOpen unless a call may go ahead now."""
        now = self._clock()
        state = self.state
        if state is BreakerState.CLOSED:
            return
        # A trial whose outcome never came (its caller was cancelled) does not block forever.
        if self._trial_started is not None and now - self._trial_started < self.reset_after:
            raise CircuitOpen(self.upstream)
        if state is BreakerState.HALF_OPEN:
            self._state = BreakerState.HALF_OPEN
            self._trial_started = now
            return
        raise CircuitOpen(self.upstream)

    def record_success(self) -> None:
        if self._state is not BreakerState.CLOSED:
            logger.info("HIS circuit for %s closed again", self.upstream)
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._trial_started = None

    def record_failure(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            if self._state is not BreakerState.OPEN:
                logger.warning("HIS circuit for %s opened after %d failures", self.upstream, self._failures)
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._trial_started = None

    def release_trial(self) -> None:
        """The trial call was abandoned (cancelled): let the next caller try instead."""
        self._trial_started = None


class Breakers:
    """One circuit breaker per upstream, for the life of the process."""

    def __init__(self, *, failure_threshold: int, reset_after: float, clock: Monotonic = time.monotonic) -> None:
        self._settings = (failure_threshold, reset_after)
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def for_upstream(self, upstream: str) -> CircuitBreaker:
        breaker = self._breakers.get(upstream)
        if breaker is None:
            threshold, reset_after = self._settings
            breaker = CircuitBreaker(upstream, failure_threshold=threshold, reset_after=reset_after, clock=self._clock)
            self._breakers[upstream] = breaker
        return breaker

    def states(self) -> dict[str, BreakerState]:
        return {name: breaker.state for name, breaker in self._breakers.items()}
