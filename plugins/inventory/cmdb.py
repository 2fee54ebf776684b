# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cmdb
short_description: Inventory from the CMDB of the configured ITSM backend
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Builds an inventory from configuration items (CIs) of the CMDB of the C(local) backend (its own CI table),
    the C(servicenow) backend (the C(cmdb_ci*) tables) or the C(jsm) backend (Jira Service Management Assets
    objects, read by AQL through the Cloud workspace API or the Data Center C(/rest/insight) API).
  - On C(jsm) a CI is an Assets object; its label is the name, its object id the id and its object type the
    class, made canonical (C(Virtual Machine) is C(virtual_machine)); fields are attributes named the same way
    (C(IP Address) is C(ip_address)) and hold the site's own values. Relationships (O(relations)) are not read
    on C(jsm), where Assets keeps them as reference attributes, and a source that asks for them fails saying so.
  - Reads the CIs in pages ordered by their id, requests only the fields the inventory uses (dot-walked
    fields in the same request) and adds each CI to the inventory as it arrives. On ServiceNow the first page
    tells the total and the other pages are read by up to O(workers) parallel requests, so N CIs cost
    ceil(N / O(page_size)) requests. C(jsm) reads its AQL pages the same way, ordered by object key.
  - ServiceNow pages are read by offset. A CI returned twice because rows moved during the read is dropped,
    so no CI is listed twice; but a CI can be missed when another CI is deleted during the read (or, when
    the number of CIs is a multiple of O(page_size), inserted before it). C(local) pages by id and misses
    nothing that exists for the whole read.
  - Values are canonical on every backend, so one configuration works on each. A class is named without the
    ServiceNow C(cmdb_ci_) prefix (C(cmdb_ci_linux_server) is C(linux_server)), and C(environment),
    C(operational_status) and C(install_status) read as words (C(production), C(operational), C(installed)).
    Other ServiceNow values are the instance's own; a reference field reads as its sys_id, so ask for
    C(location.name) rather than C(location).
  - Each CI becomes one host with the variables C(<variable_prefix>id), C(<variable_prefix>name),
    C(<variable_prefix>class) and one C(<variable_prefix><field>) per fetched field (dots become
    underscores, so C(location.country) gives C(cmdb_location_country)), plus C(ansible_host).
  - O(compose), O(groups) and O(keyed_groups) give exactly the results of ansible-core's C(constructed) logic
    (prefix, separator, sanitized names, O(keyed_groups[].parent_group), O(keyed_groups[].default_value),
    O(keyed_groups[].trailing_separator), O(leading_separator), lists and dicts as keys, O(strict)). The entries
    people usually write are evaluated without Jinja, which keeps a large inventory as fast as a static file;
    they are an expression that is a variable name, optionally followed by attributes and items (C(cmdb_os),
    C(tags.Name), C(tags['Name']), C(roles[0])) and by C(| default(literal)) or C(| default(literal, true)),
    and a O(groups) condition that is such an expression with a boolean value, compares it with C(==) or
    C(!=) to a literal, or tests C('text' in) or C('text' not in) it. A literal is a quoted string, a whole
    number, C(true), C(false) or C(none). Every other expression, a host whose value only Jinja can judge (a
    variable set by another source, a missing variable under O(strict)), and every source with
    O(use_extra_vars) is templated by ansible-core as usual.
  - With O(change) or O(change_correlation_id) the inventory holds only the CIs that change affects, and only
    while the change is approved, in state C(scheduled) or C(implement) and inside its planned window;
    otherwise the source fails with an error, so a play cannot reach a host outside an approved change.
    The affected CIs are matched by id (the ServiceNow sys_id, the Assets object id of the change's
    C(Affected objects) on C(jsm)), never by name, so a CI that only shares a name with an affected one is not
    listed; O(filters) and O(query) still apply within them.
  - With O(cache), a hit serves the CIs and relationships stored by the last fetch and does not rewrite the
    entry, so the entry keeps its age and expires O(cache_timeout) seconds after that fetch. The key covers
    the backend and its connection, O(ci_class), the fetched fields, O(filters), O(query) and O(relations);
    changing any of them fetches afresh. The change check of O(change) runs on every run, a hit included, so
    a cached inventory is refused as soon as its change is no longer approved or leaves its window.
  - The configuration file name must end in C(.cmdb.yml) or C(.cmdb.yaml).
options:
  plugin:
    description: The name of this plugin; it makes the file a source for it.
    type: str
    required: true
    choices: [opsgate.itsm.cmdb]
  ci_class:
    description:
      - The CI class or source table to read, for example C(linux_server). On ServiceNow it is the table
        C(cmdb_ci_<class>) (a name starting with C(cmdb_) is taken as the table itself) with its child classes;
        on C(local) the stored class must match exactly; on C(jsm) it names the Assets object type (C(server) is
        C(Server)), and a type the site lacks is refused with the list of the site's.
      - All CIs when not set.
    type: str
    aliases: [table]
  fields:
    description:
      - CI fields to fetch and set as host variables. Only these, the O(hostnames) and O(ansible_host)
        fields and the fields of the O(default_groups) are requested from the backend.
      - A dotted name (C(location.country)) is a dot-walk, fetched in the same request as the CI.
    type: list
    elements: str
    default: [fqdn, host_name, ip_address, environment, operational_status]
  filters:
    description:
      - Canonical filters, the same on every backend, ANDed; a list of values means any of them.
      - Keys are field names (C(name), C(ci_class), C(environment), C(operational_status), ...).
    type: dict
    default: {}
  query:
    description:
      - A raw query in the backend's language, ANDed with O(filters). ServiceNow takes an encoded query; C(local)
        understands terms joined with C(^) using C(=), C(!=), C(IN), C(NOT IN), C(LIKE), C(NOT LIKE),
        C(STARTSWITH), C(ENDSWITH), C(ISEMPTY) and C(ISNOTEMPTY). C(jsm) takes AQL without C(ORDER BY)
        (C(Location NOT IN (Tokyo, Singapore))), or that encoded-query subset, which it translates to AQL.
    type: str
  hostnames:
    description:
      - Fields that give the inventory host name, in fallback order; the first non-empty one wins.
        Usually some of C(fqdn), C(host_name), C(name), C(ip_address).
      - A CI with none of them is left out and reported.
    type: list
    elements: str
    default: [fqdn, host_name, name]
  ansible_host:
    description:
      - Fields that give C(ansible_host), in fallback order. An empty list sets no C(ansible_host).
    type: list
    elements: str
    default: [ip_address]
  variable_prefix:
    description: Prefix of the host variables made from CI fields (a variable cannot be called plain C(name)).
    type: str
    default: cmdb_
  group_prefix:
    description: Prefix of the default groups and the relation groups.
    type: str
    default: cmdb_
  default_groups:
    description:
      - Groups made for every CI, named C(<group_prefix>class_<class>), C(<group_prefix>environment_<environment>)
        and C(<group_prefix>operational_status_<status>). An empty list turns them off.
    type: list
    elements: str
    choices: [class, environment, operational_status]
    default: [class, environment, operational_status]
  duplicate_hostnames:
    description:
      - What to do when several CIs give the same host name. CIs are read ordered by id, so the outcome does
        not change from run to run. C(first) keeps the CI with the lowest id and leaves out the others;
        C(suffix) names the others C(<host>_<CI id>); C(error) fails. Duplicates are reported as a warning.
    type: str
    choices: [first, suffix, error]
    default: first
  change:
    description:
      - A change number (C(CHG0000001); on C(jsm) the issue key, C(ITSM-42)). The inventory then holds only the
        CIs this change affects.
      - Mutually exclusive with O(change_correlation_id).
    type: str
  change_correlation_id:
    description: Like O(change), naming the open change with this correlation id.
    type: str
  change_require_approved:
    description:
      - With O(change) or O(change_correlation_id), fail unless the change is approved, in state C(scheduled)
        or C(implement) and inside its planned window (the checks of M(opsgate.itsm.change_gate)).
      - Set to V(false) to list the change's hosts whatever its state, for example to prepare a plan.
    type: bool
    default: true
  relations:
    description:
      - Groups from CMDB relationships, read only for the CIs in the inventory. A host whose CI "Runs on"
        C(esx01) joins the group C(<group_prefix>runs_on_esx01).
      - The relationships followed are those leaving the CI. On ServiceNow they are the C(cmdb_rel_ci) rows
        whose parent is the CI, named by their type's parent descriptor (C(Runs on::Runs) is C(Runs on)).
      - With O(relations.depth) above 1, a CI reached in several hops gives a group named the same way, by
        the type of the last hop and the CI reached. A host that runs on C(esx01), which runs on C(cluster1),
        joins C(<group_prefix>runs_on_esx01) and C(<group_prefix>runs_on_cluster1).
    type: dict
    suboptions:
      types:
        description: Relationship types to follow, for example C(Runs on), C(Depends on). All when empty.
        type: list
        elements: str
      depth:
        description: How many hops to follow (1 to 5).
        type: int
        default: 1
  page_size:
    description: CIs per request.
    type: int
    default: 1000
  workers:
    description: The most page requests run at once, on backends that can fetch pages in parallel.
    type: int
    default: 4
  backend:
    vars:
      - name: itsm_backend
  url:
    vars:
      - name: itsm_url
  username:
    vars:
      - name: itsm_username
  password:
    vars:
      - name: itsm_password
  token:
    vars:
      - name: itsm_token
  api_key:
    vars:
      - name: itsm_api_key
  client_id:
    vars:
      - name: itsm_client_id
  client_secret:
    vars:
      - name: itsm_client_secret
  validate_certs:
    vars:
      - name: itsm_validate_certs
  ca_path:
    vars:
      - name: itsm_ca_path
  timeout:
    vars:
      - name: itsm_timeout
  retries:
    vars:
      - name: itsm_retries
  local_db:
    vars:
      - name: itsm_local_db
  jsm_mapping:
    vars:
      - name: itsm_jsm_mapping
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.connection.plugins
  - constructed
  - inventory_cache
notes:
  - Connection options also come from C(ITSM_*) environment variables, the C([opsgate_itsm]) section of
    C(ansible.cfg), and C(itsm_*) extra variables.
seealso:
  - module: opsgate.itsm.configuration_item
  - module: opsgate.itsm.change_gate
"""

EXAMPLES = r"""
# servers.cmdb.yml: every server of the local CMDB, grouped by class, environment and status
plugin: opsgate.itsm.cmdb
ci_class: linux_server
filters:
  operational_status: operational

---
# web.cmdb.yml: ServiceNow web servers, named by FQDN, with the location's country as a group
plugin: opsgate.itsm.cmdb
backend: servicenow
url: https://example.service-now.com
ci_class: server
query: nameSTARTSWITHweb
fields: [fqdn, ip_address, location.country]
hostnames: [fqdn, name]
keyed_groups:
  - key: cmdb_location_country
    prefix: country
compose:
  ansible_user: "'admin' if cmdb_environment == 'production' else 'dev'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-cmdb
cache_timeout: 600

---
# change.cmdb.yml: only the hosts of an approved change, only inside its window
plugin: opsgate.itsm.cmdb
change: CHG0000042
relations:
  types: [Runs on]
"""

import typing as t

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.plugin_utils._home import publish_ansible_home
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _inventory, _inventory_source


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "opsgate.itsm.cmdb"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith((".cmdb.yml", ".cmdb.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        publish_ansible_home()
        self._read_config_data(path)
        try:
            self._populate(path, cache)
        except ItsmError as error:
            raise AnsibleParserError(f"opsgate.itsm.cmdb inventory {path}: {error.message}") from None

    def _populate(self, path: str, cache: bool) -> None:
        options = _inventory_source.InventoryOptions.from_options(self.get_option)
        settings = ConnectionSettings.from_plugin(self.get_option)
        backend = build_backend(settings, warn=self.display.warning)
        try:
            scope = self._change_scope(backend)
            filters = options.filters if scope is None else _inventory_source.scoped_filters(options.filters, scope)
            key = _inventory.cache_key(self, path, {
                "backend": settings.backend, "url": settings.url, "username": settings.username,
                "local_db": settings.local_db, "jsm_mapping": settings.jsm_mapping, "ci_class": options.ci_class,
                "fields": options.request_fields(),
                "filters": filters, "query": options.query,
                "relations": [list(options.relation_types), options.relation_depth], "format": 2})
            hit, cached = _inventory.get_cached_result(self, key, cache)
            writer = _inventory.HostWriter(self, options, {name: self.get_option(name) for name in
                                                           ("compose", "groups", "keyed_groups", "strict")})
            if hit:
                self._add(writer, cached["cis"])
                writer.add_relations(cached["relations"])
            else:
                fetched = self._fetch(backend, writer, options, filters)
                _inventory.update_cached_result(self, key, fetched)
        finally:
            backend.close()
        for message in writer.report():
            self.display.warning(f"opsgate.itsm.cmdb inventory {path}: {message}")

    def _change_scope(self, backend) -> list[str] | None:
        number, correlation_id = self.get_option("change"), self.get_option("change_correlation_id")
        if number and correlation_id:
            raise ItsmValidationError("change", number, "give change or change_correlation_id, not both")
        if not (number or correlation_id):
            return None
        change, ids = _inventory_source.change_scope(backend, number, correlation_id,
                                                     self.get_option("change_require_approved"))
        if not ids:
            self.display.warning(f"opsgate.itsm.cmdb: change {change['number']} affects no configuration items")
        return ids

    def _fetch(self, backend, writer: _inventory.HostWriter, options: _inventory_source.InventoryOptions,
               filters: t.Mapping[str, t.Any]) -> dict[str, list]:
        keep: list | None = [] if self.get_option("cache") else None
        if filters.get("id") != []:  # an empty scope, or a user's id filter outside it: nothing to read
            items = backend.iter_cmdb(options.ci_class, options.request_fields(), filters, options.query,
                                      options.page_size, options.workers)
            self._add(writer, items, keep)
        relations: list = []
        if options.relation_depth and writer.hosts_by_ci:
            relations = list(backend.ci_relations(sorted(writer.hosts_by_ci), list(options.relation_types) or None,
                                                  options.relation_depth))
            writer.add_relations(relations)
        return {"cis": keep or [], "relations": relations}

    @staticmethod
    def _add(writer: _inventory.HostWriter, items: t.Iterable[t.Mapping[str, t.Any]], keep: list | None = None) -> None:
        add = writer.add
        if keep is None:
            for ci in items:
                add(ci)
        else:
            for ci in items:
                keep.append(ci)
                add(ci)
