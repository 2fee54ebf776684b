# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JsmClient (backends/jsm/client.py) against the JSM simulator, Cloud and Data Center: credentials, the
deployment type and field list read once, search paging with request counts, Cloud's lagging index and
reconcileIssues, properties, transitions, comments, request types, Assets AQL paging, rate limits, errors."""

from __future__ import annotations

import base64
import math

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmAuthError, ItsmNotFoundError, ItsmSettingsError, ItsmTransientError, ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils._http import ItsmHttpError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import client as jsm_client
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import jql

from .conftest import SEEDED_ASSETS, create_issues, new_label

SEARCH_PATH = {True: ("POST", "/rest/api/2/search/jql"), False: ("POST", "/rest/api/2/search")}


# -- credentials and the site -------------------------------------------------------------------------

def test_an_api_token_is_basic_auth_on_both_flavours(jsm, client):
    assert client.http.auth_method == "api_token"
    assert client.cloud is jsm.cloud
    assert client.server_info()["deploymentType"] == ("Cloud" if jsm.cloud else "Server")


def test_a_personal_access_token_alone_is_a_bearer_token_on_data_center(jsm_dc, make_client):
    client = make_client(jsm_dc, username=None, token=jsm_dc.pat)
    assert client.http.auth_method == "token"
    assert client.fields()  # an authenticated call


def test_username_and_password_are_basic_auth(jsm_dc, make_client):
    client = make_client(jsm_dc, token=None, password=jsm_dc.token)
    assert client.http.auth_method == "basic"
    assert client.fields()


def test_refused_credentials_name_the_method_and_never_show_the_secret(jsm, make_client):
    client = make_client(jsm, token="wrong-secret-token-1234")
    with pytest.raises(ItsmAuthError) as error:
        client.fields()
    assert "api_token authentication as admin" in error.value.message
    assert "wrong-secret-token-1234" not in error.value.message


@pytest.mark.parametrize("options, option", [
    (dict(client_id="id", client_secret="s"), "client_id"),
    (dict(api_key="k"), "api_key"),
    (dict(username="admin"), "token"),
    (dict(), "token"),
])
def test_credentials_the_backend_cannot_use_are_refused_naming_the_option(options, option):
    with pytest.raises(ItsmSettingsError) as error:
        jsm_client.auth_method(ConnectionSettings(backend="jsm", url="https://x.example", **options))
    assert error.value.details["option"] == option
    assert error.value.message.startswith(f"{option}: ")


def test_the_scoped_token_url_is_accepted_and_serves_the_same_site(jsm_cloud, make_client):
    cloud_id = jsm_cloud.admin("GET", "site")["cloud_id"]
    client = make_client(jsm_cloud, url=f"{jsm_cloud.url}/ex/jira/{cloud_id}")
    assert client.cloud
    assert "Change risk" in {field["name"] for field in client.fields()}
    assert jsm_client.check_url(f"https://api.atlassian.com/ex/jira/{cloud_id}/") == \
        f"https://api.atlassian.com/ex/jira/{cloud_id}"


@pytest.mark.parametrize("url", ["https://api.atlassian.com/", "https://api.atlassian.com/ex/jira/",
                                 "https://site.example/jira?x=1"])
def test_urls_that_are_no_site_are_refused_naming_url(url):
    with pytest.raises(ItsmSettingsError) as error:
        jsm_client.check_url(url)
    assert error.value.details["option"] == "url"


def test_server_info_and_the_field_list_are_read_once(jsm, client):
    assert client.cloud is jsm.cloud
    assert client.cloud is jsm.cloud
    risk = client.field_ids(["Change risk", "planned START"])
    again = client.field_ids(["Change risk", "summary"])
    site = jsm.admin("GET", "site")
    assert risk == {"Change risk": site["fields"]["Change risk"], "planned START": site["fields"]["Planned start"]}
    assert again["Change risk"] == risk["Change risk"] and again["summary"] == "summary"
    assert risk["Change risk"].startswith("customfield_")
    assert client.http.counts[("GET", "/rest/api/2/serverInfo")] == 1
    assert client.http.counts[("GET", "/rest/api/2/field")] == 1


def test_a_field_the_site_lacks_is_refused_listing_its_custom_fields(jsm, client):
    with pytest.raises(ItsmValidationError) as error:
        client.field_ids(["Change risk", "Blast radius"])
    assert error.value.details == {"option": "mapping", "value": "Blast radius"}
    assert "its custom fields are: " in error.value.message and "Change risk" in error.value.message


# -- search ---------------------------------------------------------------------------------------------

def test_search_pages_through_every_match_in_ceil_n_over_page_requests(jsm, client):
    label = new_label()
    made = create_issues(client, 7, label)
    client.server_info()
    before = sum(client.http.counts.values())
    found = list(client.search(jql.equals("labels", label, "label"), fields=["summary"], page_size=3,
                               reconcile=[i["id"] for i in made]))
    assert sorted(issue["key"] for issue in found) == sorted(issue["key"] for issue in made)
    assert client.http.counts[SEARCH_PATH[jsm.cloud]] == math.ceil(7 / 3)
    assert sum(client.http.counts.values()) - before == math.ceil(7 / 3)
    assert all(issue["fields"]["summary"].startswith(label) for issue in found)


def test_search_of_an_exact_multiple_of_the_page_costs_no_extra_request(jsm, client):
    label = new_label()
    made = create_issues(client, 4, label)
    found = list(client.search(jql.equals("labels", label, "label"), page_size=2, reconcile=[i["id"] for i in made]))
    assert len(found) == 4
    assert client.http.counts[SEARCH_PATH[jsm.cloud]] == 2


def test_cloud_search_finds_a_just_created_issue_only_when_reconciled(jsm_cloud, make_client):
    client = make_client(jsm_cloud)
    jsm_cloud.admin("POST", "settings", {"index_lag": 60})
    try:
        label = new_label()
        [issue] = create_issues(client, 1, label)
        query = jql.equals("labels", label, "label")
        assert list(client.search(query)) == []
        assert [found["key"] for found in client.search(query, reconcile=[issue["id"]])] == [issue["key"]]
    finally:
        jsm_cloud.admin("POST", "settings", {"index_lag": 2})


def test_a_bad_query_is_an_http_error_quoting_jiras_message(jsm, client):
    with pytest.raises(ItsmHttpError) as error:
        list(client.search('project = ITSM AND nosuchfield = "x"'))
    assert error.value.status == 400
    assert "nosuchfield" in error.value.message and "errorMessages" not in error.value.message


# -- issues: create, properties, transitions, comments -----------------------------------------------------

def test_a_validation_failure_names_the_field_in_jiras_words(jsm, client):
    with pytest.raises(ItsmHttpError) as error:
        client.create_issue({"project": {"key": "ITSM"}, "issuetype": {"name": "Change"}})
    assert "summary: You must specify a summary of the issue." in error.value.message


def test_properties_are_set_with_the_issue_and_read_back(jsm, client):
    [issue] = create_issues(client, 1, new_label(), properties=lambda _i: {"opsgate": {"correlation_id": "c-1"}})
    assert client.get_property(issue["key"], "opsgate") == {"correlation_id": "c-1"}
    client.set_property(issue["key"], "opsgate", {"correlation_id": "c-2", "recurrences": 3})
    assert client.get_property(issue["key"], "opsgate") == {"correlation_id": "c-2", "recurrences": 3}
    assert client.get_property(issue["key"], "other") is None
    with pytest.raises(ItsmNotFoundError):
        client.get_property("ITSM-999999", "opsgate")


def test_transitions_are_listed_and_taken(jsm, client):
    [issue] = create_issues(client, 1, new_label())
    offered = {move["name"]: move for move in client.transitions(issue["key"])}
    assert offered["Plan"]["to"]["name"] == "Planning"
    client.transition(issue["key"], offered["Plan"]["id"], comment="planning now")
    assert client.issue(issue["key"], fields=["status"])["fields"]["status"]["name"] == "Planning"
    with pytest.raises(ItsmHttpError) as error:
        client.transition(issue["key"], "51")  # Complete: not offered from Planning
    assert error.value.status == 400


def test_comments_are_internal_or_public(jsm, client):
    [issue] = create_issues(client, 1, new_label(), kind="Incident")
    client.add_comment(issue["key"], "note for agents", internal=True)
    client.add_comment(issue["key"], "update for the caller", internal=False)
    comments = list(client.comments(issue["key"], page_size=1))
    internal = {c["body"]: {p["key"]: p["value"] for p in c.get("properties", [])}[jsm_client.INTERNAL_COMMENT]
                ["internal"] for c in comments}
    assert internal == {"note for agents": True, "update for the caller": False}
    assert client.http.counts[("GET", f"/rest/api/2/issue/{issue['key']}/comment")] == 2


# -- service desk and Assets ----------------------------------------------------------------------------------

def test_request_types_of_the_itsm_service_desk(jsm, client):
    desk = client.service_desk("itsm")
    assert desk["id"] == "1"
    names = {kind["name"] for kind in client.request_types(desk["id"])}
    assert {"Request a change", "Report an incident"} <= names
    with pytest.raises(ItsmValidationError) as error:
        client.service_desk("NOPE")
    assert error.value.details["option"] == "project" and "ITSM" in error.value.message


def test_assets_aql_pages_on_both_url_forms(jsm, client):
    found = list(client.aql('objectType = "Server"', page_size=7))
    assert len(found) == SEEDED_ASSETS
    assert len({item["id"] for item in found}) == SEEDED_ASSETS
    assert all(item["values"].get("Hostname") for item in found)
    path = "/object/aql" if jsm.cloud else "/aql/objects"
    assert client.assets_base().endswith("/v1" if jsm.cloud else "/rest/insight/1.0")
    assert client.http.counts[("POST" if jsm.cloud else "GET", client.assets_base() + path)] == \
        math.ceil(SEEDED_ASSETS / 7)


# -- rate limits -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["jira-burst-based", "jira-per-issue-on-write", "jira-quota-global-based"])
def test_a_rate_limit_is_retried_after_retry_after_naming_the_reason(jsm, client, made, reason):
    jsm.admin("POST", "faults", {"kind": "rate_limit", "reason": reason, "retry_after": 7, "count": 1,
                                 "path": "/rest/api/2/field"})
    assert client.fields()
    assert made.sleeps == [7.0]
    assert client.http.retried == 1
    [warning] = made.warnings
    assert f"(rate limit: {reason}); retrying in 7.0 s" in warning


def test_a_rate_limit_longer_than_the_budget_is_not_slept(jsm, make_client, made):
    client = make_client(jsm, timeout=1.0, retries=1)
    jsm.admin("POST", "faults", {"kind": "rate_limit", "reason": "quota", "retry_after": 3600, "count": 1})
    with pytest.raises(ItsmTransientError) as error:
        client.fields()
    assert made.sleeps == []
    assert "jira-quota-global-based" in error.value.message


def test_an_echoed_request_never_shows_the_token_nor_its_basic_form(jsm, client):
    jsm.admin("POST", "faults", {"kind": "echo", "count": 1, "path": "/rest/api/2/field"})
    with pytest.raises(ItsmHttpError) as error:
        client.fields()
    basic = base64.b64encode(f"{jsm.username}:{jsm.token}".encode()).decode()
    assert "Authorization" in error.value.message or "authorization" in error.value.message
    assert jsm.token not in error.value.message and basic not in error.value.message
