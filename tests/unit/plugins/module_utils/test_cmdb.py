# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend-neutral CMDB helpers (_cmdb) and the contract's CMDB defaults.

The inventory's own rules (options, host names, groups, change scope) are tested in tests/unit/plugins/plugin_utils/,
the local backend's CMDB in tests/unit/plugins/module_utils/backends/local/.
"""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _cmdb as cmdb
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmUnavailableError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend


def ci(id, fields=None, ci_class="server", name=None):
    return {"id": id, "name": name or id, "ci_class": ci_class, "fields": fields or {}}


# -- encoded-query subset ------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("environment=production", True), ("environment!=production", False), ("osINLinux,AIX", True),
    ("osNOT INLinux", False), ("fqdnLIKEEXAMPLE", True), ("fqdnSTARTSWITHweb", True), ("fqdnENDSWITH.org", False),
    ("serialISEMPTY", True), ("serialISNOTEMPTY", False), ("environment=production^os=Windows", False),
    ("name=INDIA", False),
])
def test_query_terms(query, expected):
    item = ci("c1", {"environment": "production", "os": "Linux", "fqdn": "web.example.com"})
    assert cmdb.matches(item, cmdb.parse_query(query), {}) is expected


@pytest.mark.parametrize("query", ["a=1^ORb=2", "ORDERBYname", "justtext"])
def test_query_refuses_what_it_does_not_understand(query):
    with pytest.raises(ItsmValidationError, match="query"):
        cmdb.parse_query(query)


def test_filters_list_means_any_of_and_compare_as_text():
    item = ci("c1", {"rack": 12})
    assert cmdb.matches(item, [], {"rack": ["11", "12"]})
    assert not cmdb.matches(item, [], {"rack": "13"})


# -- the contract's defaults -----------------------------------------------------------------------------

def test_a_backend_without_a_cmdb_says_so():
    class Bare(ItsmBackend):
        name = "bare"
        records_holding = find = create = update = transition = journal = add_journal = None

    with pytest.raises(ItsmUnavailableError, match="bare backend does not support reading the CMDB"):
        Bare(None).iter_cmdb()
    with pytest.raises(ItsmUnavailableError, match="relationships"):
        Bare(None).ci_relations(["a"])


# -- ordered parallel pages -------------------------------------------------------------------------------

class Pages:
    def __init__(self, total, page_size, tell_total=True, fail_at=None):
        self.total, self.page_size, self.tell_total, self.fail_at = total, page_size, tell_total, fail_at
        self.requested = []

    def __call__(self, index):
        self.requested.append(index)
        if index == self.fail_at:
            raise ItsmConflictError(f"page {index} failed")
        start = index * self.page_size
        return list(range(start, min(start + self.page_size, self.total))), self.total if self.tell_total else None


@pytest.mark.parametrize("total", [0, 1, 10, 11, 95])
def test_parallel_pages_come_in_order_with_one_request_per_page(total):
    fetch = Pages(total, 10)
    assert list(cmdb.ordered_pages(fetch, 10, workers=4)) == list(range(total))
    assert sorted(fetch.requested) == list(range(max(1, -(-total // 10))))


def test_pages_without_a_total_are_read_until_a_short_one():
    fetch = Pages(25, 10, tell_total=False)
    assert list(cmdb.ordered_pages(fetch, 10, workers=4)) == list(range(25))
    assert fetch.requested == [0, 1, 2]


def test_a_failed_page_is_raised_to_the_reader():
    with pytest.raises(ItsmConflictError, match="page 3 failed"):
        list(cmdb.ordered_pages(Pages(100, 10, fail_at=3), 10, workers=3))
