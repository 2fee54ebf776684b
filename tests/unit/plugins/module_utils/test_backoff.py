"""Jittered backoff: growth, cap, jitter bounds, attempts, reset, refusals."""

import itertools

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._backoff import Backoff
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError


def fixed(value):
    return lambda: value


def test_without_jitter_delays_grow_by_factor_up_to_the_cap():
    delays = list(itertools.islice(Backoff(1, factor=2, max_delay=10, jitter=0), 7))
    assert delays == [1, 2, 4, 8, 10, 10, 10]


def test_factor_one_keeps_the_delay_constant():
    assert list(itertools.islice(Backoff(5, factor=1, jitter=0), 4)) == [5, 5, 5, 5]


@pytest.mark.parametrize("draw, expected", [(0.0, 8.0), (0.5, 10.0), (0.999999, 12.0)])
def test_jitter_spreads_each_delay_either_side_of_its_nominal_value(draw, expected):
    assert next(iter(Backoff(10, jitter=0.2, rng=fixed(draw)))) == pytest.approx(expected, abs=1e-4)


def test_jittered_delays_never_exceed_the_cap():
    delays = list(itertools.islice(Backoff(10, factor=3, max_delay=20, jitter=0.5, rng=fixed(0.999)), 5))
    assert max(delays) == 20
    assert delays[0] == pytest.approx(14.99, abs=0.01)


def test_attempts_bound_the_sequence_and_each_iteration_starts_over():
    policy = Backoff(1, factor=2, jitter=0, attempts=3)
    assert list(policy) == [1, 2, 4]
    assert list(policy) == [1, 2, 4]
    assert list(Backoff(1, attempts=0)) == []


def test_reset_restarts_growth():
    delays = iter(Backoff(1, factor=2, jitter=0))
    assert [next(delays), next(delays), next(delays)] == [1, 2, 4]
    delays.reset()
    assert next(delays) == 1


def test_a_long_wait_does_not_overflow():
    delays = iter(Backoff(1, factor=10, max_delay=60, jitter=0))
    assert list(itertools.islice(delays, 2000))[-1] == 60


def test_max_delay_below_delay_is_raised_to_delay():
    assert next(iter(Backoff(30, max_delay=10, jitter=0))) == 30


@pytest.mark.parametrize("kwargs, option", [
    (dict(delay=-1), "delay"), (dict(delay=1, factor=0.5), "factor"), (dict(delay=1, jitter=1.5), "jitter"),
    (dict(delay=1, attempts=-2), "attempts"),
])
def test_invalid_settings_are_refused_naming_the_option(kwargs, option):
    with pytest.raises(ItsmValidationError) as error:
        Backoff(**kwargs)
    assert error.value.details["option"] == option
