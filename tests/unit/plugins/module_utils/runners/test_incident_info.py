"""incident_info run() against a real local store: the opened_at filters."""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident_info as info


def test_opened_after_and_before_keep_the_incidents_opened_in_the_range(task):
    opened = task(incident, correlation_id="info-a", short_description="Disk full")["record"]
    numbers = [record["number"] for record in task(info, opened_after=opened["opened_at"],
                                                   opened_before=opened["opened_at"])["records"]]
    assert numbers == [opened["number"]]
    assert task(info, opened_after="2999-01-01T00:00:00Z")["records"] == []
    assert task(info, opened_before="2000-01-01T00:00:00-05:00")["records"] == []


def test_an_opened_after_without_a_timezone_is_refused_naming_the_option(task):
    with pytest.raises(ItsmValidationError, match=r"^opened_after: '2026-11-01 10:00' is not valid; the date has no timezone"):
        task(info, opened_after="2026-11-01 10:00")
