# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assets object types the CMDB tests write (the contract suite's linux_server and win_server), ensured through
the Assets REST API as a site administrator would (objecttype/create, objecttypeattribute/{id}). The simulator
seeds both types now, so on it this only proves that those endpoints find them and create nothing twice."""

from __future__ import annotations

from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm.client import JsmClient

#: object type -> its text attributes beyond Key, Name, Created, Updated
CI_TYPES = {
    "Linux Server": ("FQDN", "IP Address", "Environment", "Operational status", "OS"),
    "Win Server": ("FQDN", "IP Address", "Environment", "Operational status", "OS"),
}


def ensure_ci_types(client: JsmClient) -> None:
    """Create the CI_TYPES the site lacks, in its first object schema (idempotent: a second run sends no write)."""
    base = client.assets_base()
    listed = client.call("GET", f"{base}/objectschema/list", "read schemas")
    schema = (listed.get("values") if client.cloud else listed.get("objectschemas"))[0]
    listed_types = client.call("GET", f"{base}/objectschema/{schema['id']}/objecttypes/flat", "read object types")
    have = {kind["name"]: kind for kind in listed_types}
    for name, attributes in CI_TYPES.items():
        if name in have:
            continue
        kind = client.call("POST", f"{base}/objecttype/create", f"create object type {name}",
                           json_body={"name": name, "objectSchemaId": schema["id"], "iconId": "1"})
        for attribute in attributes:
            client.call("POST", f"{base}/objecttypeattribute/{kind['id']}", f"add attribute {attribute}",
                        json_body={"name": attribute, "type": 0})
