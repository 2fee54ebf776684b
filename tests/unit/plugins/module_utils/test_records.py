"""Canonical vocabulary: priority matrix and the one date format."""

import datetime as dt

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _records
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError


@pytest.mark.parametrize("impact, urgency, priority", [
    ("high", "high", "critical"), ("high", "medium", "high"), ("high", "low", "moderate"),
    ("medium", "high", "high"), ("medium", "medium", "moderate"), ("medium", "low", "low"),
    ("low", "high", "moderate"), ("low", "medium", "low"), ("low", "low", "planning"),
    (None, None, "planning"),
])
def test_servicenow_priority_matrix(impact, urgency, priority):
    assert _records.priority_for(impact, urgency) == priority


@pytest.mark.parametrize("text, expected", [
    ("2026-11-24T10:00:00Z", "2026-11-24T10:00:00Z"),
    ("2026-11-24T11:30:00+01:30", "2026-11-24T10:00:00Z"),
    ("2026-11-24 05:00:00-05:00", "2026-11-24T10:00:00Z"),
    (dt.datetime(2026, 11, 24, 10, tzinfo=dt.timezone.utc), "2026-11-24T10:00:00Z"),
])
def test_dates_normalise_to_utc(text, expected):
    assert _records.normalise_datetime(text, "start_date") == expected


def test_date_without_timezone_is_refused_with_the_option_named():
    with pytest.raises(ItsmValidationError) as error:
        _records.parse_datetime("2026-11-24T10:00:00", "start_date")
    assert str(error.value).startswith("start_date: '2026-11-24T10:00:00' is not valid; the date has no timezone")


def test_malformed_date_is_refused():
    with pytest.raises(ItsmValidationError, match="end_date: 'tomorrow' is not valid; expected an ISO 8601"):
        _records.parse_datetime("tomorrow", "end_date")
