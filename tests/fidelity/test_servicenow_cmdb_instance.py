"""CMDB Instance API and CI relationship rows of the simulator, checked against the vendor documentation.

Sources: servicenow-api.md §6.8-§6.9 and the vendor's "CMDB Instance API" reference (GET list and one,
POST, PUT, PATCH, POST relation, DELETE relation: paths, request bodies, response shapes and samples).
The session's simulator is shared with the wire tests, which count the seeded servers: every CI a test
here creates is deleted again (its relations go with it).
"""

from __future__ import annotations

import pytest

from tests.simulators.servicenow.seed import sid

DEPENDS_ON = sid("rel_type", "Depends on::Used by")
RUNS_ON = sid("rel_type", "Runs on::Runs")
SERVICE = sid("service", "Online Banking")
BAD_PATH = {"error": {"message": "Requested URI does not represent any resource", "detail": None},
            "status": "failure"}


def instance_url(api, class_name, *rest, version=""):
    return "/".join([f"{api.base}/api/now{version}/cmdb/instance/{class_name}", *rest])


def table_url(api, name, sys_id=""):
    return f"{api.base}/api/now/table/{name}" + (f"/{sys_id}" if sys_id else "")


@pytest.fixture
def made(api):
    """Creates CIs through the Instance API and deletes them (and so their relations) after the test."""
    created: list[str] = []

    def make(class_name="cmdb_ci_linux_server", source="ServiceNow", **body):
        response = api.post(instance_url(api, class_name), json={"source": source, **body})
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        created.append(result["attributes"]["sys_id"])
        return result

    yield make
    for sys_id in created:
        api.delete(table_url(api, "cmdb_ci", sys_id))


def a_server(api, index=1):
    return api.get(table_url(api, "cmdb_ci_server", sid("server", str(index)))).json()["result"]


# -- GET /{class} ----------------------------------------------------------------------------------

def test_list_gives_sys_id_and_name_of_the_class_and_its_subclasses(api, made):
    linux = made(attributes={"name": "fid-list-linux"})
    query = "nameSTARTSWITHfid-list^ORnameSTARTSWITHlnxp00000"
    answer = api.get(instance_url(api, "cmdb_ci_server"), params={"sysparm_query": query})
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert all(set(item) == {"sys_id", "name"} for item in result)
    names = {item["name"] for item in result}
    assert "fid-list-linux" in names and "lnxp000001" in names


def test_list_pages_with_limit_and_offset(api):
    query = {"sysparm_query": "ORDERBYname"}
    first = api.get(instance_url(api, "cmdb_ci_server"), params={**query, "sysparm_limit": "5"}).json()["result"]
    second = api.get(instance_url(api, "cmdb_ci_server"),
                     params={**query, "sysparm_limit": "5", "sysparm_offset": "5"}).json()["result"]
    both = api.get(instance_url(api, "cmdb_ci_server"), params={**query, "sysparm_limit": "10"}).json()["result"]
    assert len(first) == 5 and first + second == both


def test_list_of_a_class_without_cis_is_empty(api):
    answer = api.get(instance_url(api, "cmdb_ci_win_server"), params={"sysparm_query": "name=nothing-here"})
    assert answer.status_code == 200 and answer.json() == {"result": []}


# -- GET /{class}/{sys_id} --------------------------------------------------------------------------

def test_one_ci_has_attributes_and_both_relation_lists(api):
    server = a_server(api, 4)  # every fourth seeded server is used by a service
    answer = api.get(instance_url(api, "cmdb_ci_server", server["sys_id"]))
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json;charset=UTF-8"
    result = answer.json()["result"]
    assert set(result) == {"attributes", "outbound_relations", "inbound_relations"}
    attributes = result["attributes"]
    assert set(server) <= set(attributes)
    assert attributes["name"] == server["name"] and attributes["sys_class_name"] == "cmdb_ci_server"
    assert attributes["sys_id"] == server["sys_id"] and attributes["ram"] == server["ram"]
    location = attributes["location"]
    assert set(location) == {"display_value", "link", "value"}
    assert location["link"] == f"{api.base}/api/now/table/cmn_location/{location['value']}"
    assert attributes["maintenance_schedule"] == ""  # an empty reference is a plain empty string
    assert result["outbound_relations"] == []
    [inbound] = result["inbound_relations"]
    assert inbound["sys_id"] == sid("rel", "4")
    assert inbound["type"] == {"display_value": "Depends on::Used by", "value": DEPENDS_ON,
                               "link": f"{api.base}/api/now/table/cmdb_rel_type/{DEPENDS_ON}"}
    parent = api.get(table_url(api, "cmdb_rel_ci", inbound["sys_id"])).json()["result"]["parent"]["value"]
    assert inbound["target"]["value"] == parent
    assert inbound["target"]["link"] == f"{api.base}/api/now/cmdb/instance/cmdb_ci/{parent}"


def test_the_service_sees_the_same_relation_as_outbound(api):
    server = a_server(api, 4)
    rel = api.get(table_url(api, "cmdb_rel_ci", sid("rel", "4"))).json()["result"]
    service = api.get(instance_url(api, "cmdb_ci_service", rel["parent"]["value"])).json()["result"]
    outbound = [r for r in service["outbound_relations"] if r["sys_id"] == sid("rel", "4")]
    assert outbound and outbound[0]["target"]["value"] == server["sys_id"]
    assert outbound[0]["target"]["display_value"] == server["name"]


def test_versioned_url_answers_the_same(api):
    server = a_server(api)
    plain = api.get(instance_url(api, "cmdb_ci_server", server["sys_id"])).json()
    assert api.get(instance_url(api, "cmdb_ci_server", server["sys_id"], version="/v1")).json() == plain


@pytest.mark.parametrize("class_name", ["no_such_class", "incident", "sys_user"])
def test_a_class_that_is_not_a_cmdb_class_is_not_a_resource(api, class_name):
    answer = api.get(instance_url(api, class_name))
    assert answer.status_code == 400 and answer.json() == BAD_PATH


def test_unknown_ci_or_ci_of_another_class_is_not_found(api):
    assert api.get(instance_url(api, "cmdb_ci_server", "0" * 32)).status_code == 404
    assert api.get(instance_url(api, "cmdb_ci_server", SERVICE)).status_code == 404
    assert api.get(instance_url(api, "cmdb_ci", SERVICE)).status_code == 200


def test_the_api_needs_the_itil_role(api):
    answer = api.get(instance_url(api, "cmdb_ci_server"), auth=("cab.approver", "cab"))
    assert answer.status_code == 403
    assert answer.json()["error"]["detail"] == "ACL Exception Read Failed due to security constraints"
    assert api.get(instance_url(api, "cmdb_ci_server"), auth=("itil", "itil")).status_code == 200


# -- POST /{class} ------------------------------------------------------------------------------------

def test_create_with_relations_answers_the_new_ci_as_get_does(api, made):
    server = a_server(api, 1)
    result = made(attributes={"name": "fid-create", "os": "Linux Red Hat", "ram": "2048"},
                  outbound_relations=[{"type": RUNS_ON, "target": server["sys_id"]}],
                  inbound_relations=[{"type": DEPENDS_ON, "target": SERVICE}])
    attributes = result["attributes"]
    assert attributes["name"] == "fid-create" and attributes["sys_class_name"] == "cmdb_ci_linux_server"
    assert attributes["discovery_source"] == "ServiceNow"
    assert attributes["first_discovered"] and attributes["last_discovered"]
    [outbound], [inbound] = result["outbound_relations"], result["inbound_relations"]
    assert (outbound["type"]["value"], outbound["target"]["value"]) == (RUNS_ON, server["sys_id"])
    assert (inbound["type"]["value"], inbound["target"]["value"]) == (DEPENDS_ON, SERVICE)
    again = api.get(instance_url(api, "cmdb_ci_linux_server", attributes["sys_id"])).json()["result"]
    assert again == result
    rows = api.get(table_url(api, "cmdb_rel_ci"), params={"child": attributes["sys_id"]}).json()["result"]
    assert [(r["parent"]["value"], r["type"]["value"]) for r in rows] == [(SERVICE, DEPENDS_ON)]


def test_create_of_a_known_name_updates_that_ci(api, made):
    first = made(attributes={"name": "fid-identify", "os": "Linux"})
    second = made(attributes={"name": "fid-identify", "os": "Linux Ubuntu"})
    assert second["attributes"]["sys_id"] == first["attributes"]["sys_id"]
    assert second["attributes"]["os"] == "Linux Ubuntu"


@pytest.mark.parametrize("body", [
    {"attributes": {"name": "fid-no-source"}},
    {"attributes": {"name": "fid-bad-target"}, "source": "ServiceNow",
     "outbound_relations": [{"type": RUNS_ON, "target": "0" * 32}]},
    {"attributes": {"name": "fid-bad-type"}, "source": "ServiceNow",
     "inbound_relations": [{"type": "0" * 32, "target": SERVICE}]},
    {"attributes": {"name": "fid-no-type"}, "source": "ServiceNow", "outbound_relations": [{"target": SERVICE}]},
])
def test_a_bad_create_is_a_400_and_writes_nothing(api, body):
    answer = api.post(instance_url(api, "cmdb_ci_linux_server"), json=body)
    assert answer.status_code == 400 and answer.json()["status"] == "failure"
    name = body["attributes"]["name"]
    assert api.get(table_url(api, "cmdb_ci"), params={"name": name}).json()["result"] == []


# -- PUT / PATCH /{class}/{sys_id} ------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_changes_the_given_attributes_only_and_not_the_relations(api, made, method):
    created = made(attributes={"name": f"fid-{method}", "os": "Linux", "ram": "1024"},
                   inbound_relations=[{"type": DEPENDS_ON, "target": SERVICE}])
    sys_id = created["attributes"]["sys_id"]
    answer = api.request(method, instance_url(api, "cmdb_ci_linux_server", sys_id),
                         json={"attributes": {"ram": "4096"}, "source": "ServiceNow",
                               "inbound_relations": [], "outbound_relations": [{"type": RUNS_ON, "target": SERVICE}]})
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert (result["attributes"]["ram"], result["attributes"]["os"]) == ("4096", "Linux")
    assert result["inbound_relations"] == created["inbound_relations"] and result["outbound_relations"] == []


def test_update_needs_a_source_and_an_existing_ci(api, made):
    sys_id = made(attributes={"name": "fid-update-checks"})["attributes"]["sys_id"]
    assert api.patch(instance_url(api, "cmdb_ci_linux_server", sys_id),
                     json={"attributes": {"ram": "1"}}).status_code == 400
    assert api.patch(instance_url(api, "cmdb_ci_linux_server", "0" * 32),
                     json={"attributes": {"ram": "1"}, "source": "ServiceNow"}).status_code == 404


# -- relations ---------------------------------------------------------------------------------------------

def test_add_relations_answers_the_ci_and_does_not_add_a_relation_twice(api, made):
    server = a_server(api, 2)
    sys_id = made(attributes={"name": "fid-relate"})["attributes"]["sys_id"]
    body = {"source": "ServiceNow", "outbound_relations": [{"type": RUNS_ON, "target": server["sys_id"]}],
            "inbound_relations": [{"type": DEPENDS_ON, "target": SERVICE}]}
    first = api.post(instance_url(api, "cmdb_ci_linux_server", sys_id, "relation"), json=body)
    assert first.status_code == 200, first.text
    result = first.json()["result"]
    assert len(result["outbound_relations"]) == 1 and len(result["inbound_relations"]) == 1
    again = api.post(instance_url(api, "cmdb_ci_linux_server", sys_id, "relation"), json=body).json()["result"]
    assert again["outbound_relations"] == result["outbound_relations"]
    assert again["inbound_relations"] == result["inbound_relations"]


def test_delete_relation_removes_it_once(api, made):
    created = made(attributes={"name": "fid-unrelate"}, inbound_relations=[{"type": DEPENDS_ON, "target": SERVICE}])
    sys_id, rel_id = created["attributes"]["sys_id"], created["inbound_relations"][0]["sys_id"]
    path = instance_url(api, "cmdb_ci_linux_server", sys_id, "relation", rel_id)
    gone = api.delete(path)
    assert gone.status_code == 204 and gone.content == b""
    assert api.get(instance_url(api, "cmdb_ci_linux_server", sys_id)).json()["result"]["inbound_relations"] == []
    assert api.get(table_url(api, "cmdb_rel_ci", rel_id)).status_code == 404
    assert api.delete(path).status_code == 404


def test_a_relation_of_another_ci_cannot_be_deleted_through_this_one(api, made):
    sys_id = made(attributes={"name": "fid-not-mine"})["attributes"]["sys_id"]
    answer = api.delete(instance_url(api, "cmdb_ci_linux_server", sys_id, "relation", sid("rel", "4")))
    assert answer.status_code == 404
    assert api.get(table_url(api, "cmdb_rel_ci", sid("rel", "4"))).status_code == 200


def test_deleting_a_ci_deletes_its_relations(api):
    created = api.post(instance_url(api, "cmdb_ci_linux_server"),
                       json={"attributes": {"name": "fid-cascade"}, "source": "ServiceNow",
                             "inbound_relations": [{"type": DEPENDS_ON, "target": SERVICE}]}).json()["result"]
    rel_id = created["inbound_relations"][0]["sys_id"]
    assert api.delete(table_url(api, "cmdb_ci", created["attributes"]["sys_id"])).status_code == 204
    assert api.get(table_url(api, "cmdb_rel_ci", rel_id)).status_code == 404


# -- cmdb_rel_ci and cmdb_rel_type through the Table API -------------------------------------------------------

def test_relation_rows_carry_their_class_name(api):
    seeded = api.get(table_url(api, "cmdb_rel_ci", sid("rel", "4")), params={"sysparm_display_value": "all"})
    assert seeded.json()["result"]["sys_class_name"] == {"display_value": "CI Relationship", "value": "cmdb_rel_ci"}
    made = api.post(table_url(api, "cmdb_rel_ci"),
                    json={"parent": SERVICE, "child": sid("server", "3"), "type": DEPENDS_ON})
    assert made.status_code == 201 and made.json()["result"]["sys_class_name"] == "cmdb_rel_ci"
    try:
        # a re-run writes the record it read back, sys_class_name included: that must not fail
        echo = {k: made.json()["result"][k] for k in ("sys_class_name", "parent", "child", "type")}
        again = api.patch(table_url(api, "cmdb_rel_ci", made.json()["result"]["sys_id"]), json=echo)
        assert again.status_code == 200 and again.json()["result"]["sys_class_name"] == "cmdb_rel_ci"
        listed = api.get(table_url(api, "cmdb_rel_ci"),
                         params={"sys_class_name": "cmdb_rel_ci", "child": sid("server", "3")})
        assert [r["sys_id"] for r in listed.json()["result"]] == [made.json()["result"]["sys_id"]]
    finally:
        api.delete(table_url(api, "cmdb_rel_ci", made.json()["result"]["sys_id"]))


def test_relation_types_are_found_by_sys_name(api):
    found = api.get(table_url(api, "cmdb_rel_type"), params={"sys_name": "Runs on::Runs"}).json()["result"]
    assert [(t["sys_id"], t["name"], t["sys_name"]) for t in found] == [(RUNS_ON, "Runs on::Runs", "Runs on::Runs")]
