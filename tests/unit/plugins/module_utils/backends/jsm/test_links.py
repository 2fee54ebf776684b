# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backends/jsm/links.py against the JSM simulator, Cloud and Data Center: caused_by as a "Causes" issue link,
written once, replaced, removed, and read back from the incident's issuelinks."""

from __future__ import annotations

from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import links

from .conftest import create_issues, new_label

LINK_PATH = "/rest/api/2/issueLink"


def _pair(client):
    label = new_label()
    change = create_issues(client, 1, label, "Change")[0]
    incident = create_issues(client, 1, label, "Incident")[0]
    return change["key"], incident["key"]


def _cause(client, key):
    return links.caused_by(client.issue(key, fields=links.ISSUE_FIELDS))


def test_the_incident_is_caused_by_the_change_and_a_second_call_sends_nothing(jsm, client):
    change, incident = _pair(client)

    assert links.set_caused_by(client, incident, change) is True
    posts = jsm.request_count("POST", LINK_PATH)
    assert links.set_caused_by(client, incident, change.lower()) is False

    assert jsm.request_count("POST", LINK_PATH) == posts
    assert _cause(client, incident) == change
    assert _cause(client, change) is None  # the change causes; it is not caused by the incident
    (link,) = client.issue(change, fields=links.ISSUE_FIELDS)["fields"]["issuelinks"]
    assert (link["type"]["outward"], link["outwardIssue"]["key"]) == ("causes", incident)


def test_a_new_cause_replaces_the_former_one(client):
    first, incident = _pair(client)
    second = create_issues(client, 1, new_label(), "Change")[0]["key"]
    links.set_caused_by(client, incident, first)

    assert links.set_caused_by(client, incident, second) is True

    assert _cause(client, incident) == second
    assert client.issue(first, fields=links.ISSUE_FIELDS)["fields"]["issuelinks"] == []


def test_check_mode_links_nothing(jsm, client):
    change, incident = _pair(client)

    assert links.set_caused_by(client, incident, change, check_mode=True) is True

    assert jsm.request_count("POST", LINK_PATH) == 0
    assert _cause(client, incident) is None


def test_clearing_removes_the_cause(client):
    change, incident = _pair(client)
    links.set_caused_by(client, incident, change)

    assert links.clear_caused_by(client, incident) is True
    assert links.clear_caused_by(client, incident) is False
    assert _cause(client, incident) is None


def test_other_link_types_are_no_cause(client):
    change, incident = _pair(client)
    client.add_link("Relates", change, incident, "relate them")

    assert _cause(client, incident) is None


def test_a_link_post_cut_off_after_it_landed_is_not_sent_twice(jsm, client):
    change, incident = _pair(client)
    jsm.admin("POST", "faults", {"kind": "reset", "stage": "headers", "count": 1, "method": "POST",
                                 "path": LINK_PATH})

    assert links.set_caused_by(client, incident, change) is True

    posts = jsm.admin("GET", f"requests?method=POST&path={LINK_PATH}")["requests"]
    assert [entry["fault"] for entry in posts] == ["reset"]  # cut off once, found, never sent again
    assert len(client.issue(incident, fields=links.ISSUE_FIELDS)["fields"]["issuelinks"]) == 1
    assert _cause(client, incident) == change
