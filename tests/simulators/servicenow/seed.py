"""Seed data: users, groups, change models, a standard change template, locations, and an
optional CMDB of N servers.  Seeded sys_ids are deterministic (see ``sid``), so tests and
benchmarks can refer to them across runs.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from .schema import SCHEMA, Table
from .store import Store
from .timeutil import FMT, Clock

ADMIN_SYS_ID = "6816f79cc0a8016401c5a33be04be441"
USERS = [  # user_name, password, first, last, roles, groups
    ("admin", "admin", "System", "Administrator", "admin,itil,change_manager,approver_user",
     ["Network", "Service Desk"]),
    ("cab.approver", "cab", "CAB", "Approver", "approver_user", ["CAB Approval"]),
    ("itil", "itil", "ITIL", "User", "itil", ["Service Desk"]),
]
GROUPS = [("CAB Approval", "Change Advisory Board approvers"), ("Network", "Network operations"),
          ("Service Desk", "First-line support"), ("Database", "Database administration")]
LOCATIONS = [("London", "GB"), ("Paris", "FR"), ("Frankfurt", "DE"), ("New York", "US"), ("San Diego", "US"),
             ("Singapore", "SG"), ("Sydney", "AU"), ("Tokyo", "JP")]
# The base system's relationship types (parent descriptor, child descriptor); the local backend knows the same
# parent descriptors (backends/local/cmdb.py RELATION_TYPES, issue 16).
_REL_DESCRIPTORS = [
    ("Allocated to", "Allocated from"), ("Backed up by", "Backs up"), ("Cluster of", "Cluster"),
    ("Connects to", "Connected by"), ("Contains", "Contained by"), ("Controls", "Controlled by"),
    ("Cools", "Cooled by"), ("Defines resources for", "Gets resources from"), ("Depends on", "Used by"),
    ("Exchanges data with", "Exchanges data with"), ("Feeds", "Fed by"), ("Hosted on", "Hosts"),
    ("Implement End Point To", "Implement End Point From"), ("Instantiates", "Instantiated by"),
    ("IP Connection", "IP Connection"), ("Located in", "Houses"), ("Managed by", "Manages"),
    ("Manages", "Managed by"), ("Members", "Member of"), ("Owns", "Owned by"), ("Powers", "Powered by"),
    ("Provides", "Provided by"), ("Receives data from", "Sends data to"), ("Registered on", "Has registered"),
    ("Runs", "Runs on"), ("Runs on", "Runs"), ("Sends data to", "Receives data from"), ("Serves", "Served by"),
    ("Subscribes to", "Subscribed by"), ("Use End Point To", "Use End Point From"), ("Uses", "Used by"),
    ("Virtualized by", "Virtualizes"), ("Virtualizes", "Virtualized by"),
]
REL_TYPES = [(f"{parent}::{child}", parent, child) for parent, child in _REL_DESCRIPTORS]
SERVICES = ["Online Banking", "Payroll", "Email", "CRM", "Web Portal"]
OSES = [("Linux Red Hat", "8.9", "lnx"), ("Linux Ubuntu", "22.04", "lnx"), ("Windows 2019 Standard", "1809", "win"),
        ("Linux SuSE", "15.5", "lnx"), ("Windows 2022 Standard", "21H2", "win")]
ENVIRONMENTS = [("Production", "p"), ("Production", "p"), ("Test", "t"), ("Development", "d")]
TEMPLATE = ("short_description=Patch Linux servers^description=Apply the monthly OS patch bundle to Linux servers"
            "^implementation_plan=Drain, patch, reboot, verify, re-enable^backout_plan=Roll back to the previous "
            "kernel and package set^test_plan=Smoke-test the application health checks^risk=4^impact=3"
            "^category=Software^EQ")


def sid(kind: str, key: str) -> str:
    """Deterministic sys_id of a seeded record."""
    return hashlib.md5(f"opsgate-sim:{kind}:{key}".encode()).hexdigest()


def _row(table: Table, now: str, **values: str) -> dict[str, str]:
    row = {name: fdef.default for name, fdef in table.fields.items()}
    row.update(sys_created_on=now, sys_updated_on=now, sys_created_by="admin", sys_updated_by="admin",
               sys_mod_count="0")
    if "sys_class_name" in table.fields:
        row["sys_class_name"] = table.name
    row.update(values)
    return row


def seed(store: Store, clock: Clock, cmdb: int = 0) -> None:
    now = clock.now_str()
    with store.bulk_load():
        _base(store, now)
        if cmdb > 0:
            _cmdb(store, clock, cmdb)
    store.analyze()


def _base(store: Store, now: str) -> None:
    s = SCHEMA
    store.insert_many(s["sys_properties"], [
        _row(s["sys_properties"], now, sys_id=sid("prop", "tz"), name="glide.sys.default.tz", value="UTC"),
        _row(s["sys_properties"], now, sys_id=sid("prop", "invalid"), name="glide.invalid_query.returns_no_rows",
             value="false", type="true|false")])
    groups = {name: sid("group", name) for name, _desc in GROUPS}
    store.insert_many(s["sys_user_group"], [_row(s["sys_user_group"], now, sys_id=groups[name], name=name,
                                                 description=desc, manager=ADMIN_SYS_ID) for name, desc in GROUPS])
    users, members = [], []
    for user_name, password, first, last, roles, member_of in USERS:
        user_id = ADMIN_SYS_ID if user_name == "admin" else sid("user", user_name)
        users.append(_row(s["sys_user"], now, sys_id=user_id, user_name=user_name, first_name=first, last_name=last,
                          name=f"{first} {last}", email=f"{user_name}@example.com", roles=roles))
        store.set_password(user_name, password)
        members += [_row(s["sys_user_grmember"], now, sys_id=sid("member", f"{user_name}/{g}"), user=user_id,
                         group=groups[g]) for g in member_of]
    store.insert_many(s["sys_user"], users)
    store.insert_many(s["sys_user_grmember"], members)
    store.insert_many(s["chg_model"], [
        _row(s["chg_model"], now, sys_id=sid("chg_model", name), name=name, default_change_type=name.lower())
        for name in ("Normal", "Standard", "Emergency")])
    producer, version = sid("std_producer", "patch"), sid("std_version", "patch-1")
    store.insert_many(s["std_change_record_producer"], [_row(
        s["std_change_record_producer"], now, sys_id=producer, name="Patch Linux servers",
        short_description="Patch Linux servers", category="Software", current_version=version)])
    store.insert_many(s["std_change_producer_version"], [_row(
        s["std_change_producer_version"], now, sys_id=version, name="Patch Linux servers - 1", version="1",
        std_change_producer=producer, template=TEMPLATE, short_description="Patch Linux servers")])
    store.insert_many(s["cmn_location"], [_row(s["cmn_location"], now, sys_id=sid("location", city), name=city,
                                               city=city, country=country) for city, country in LOCATIONS])
    store.insert_many(s["cmdb_rel_type"], [
        _row(s["cmdb_rel_type"], now, sys_id=sid("rel_type", name), name=name, sys_name=name, parent_descriptor=p,
             child_descriptor=c) for name, p, c in REL_TYPES])


def _cmdb(store: Store, clock: Clock, count: int) -> None:
    s = SCHEMA
    server, service, rel = s["cmdb_ci_server"], s["cmdb_ci_service"], s["cmdb_rel_ci"]
    start = clock.now() - timedelta(seconds=count)
    services = [_row(service, start.strftime(FMT), sys_id=sid("service", name), name=name,
                     operational_status="1", install_status="1", environment="Production") for name in SERVICES]
    store.insert_many(service, services)
    locations = [sid("location", city) for city, _country in LOCATIONS]
    groups = [sid("group", "Network"), sid("group", "Service Desk"), sid("group", "Database")]
    depends_on = sid("rel_type", "Depends on::Used by")
    template = _row(server, "")
    base_seconds = int(start.timestamp())
    minutes: dict[int, str] = {}
    rows, rels = [], []
    for i in range(1, count + 1):
        os_name, os_version, prefix = OSES[i % len(OSES)]
        env, env_code = ENVIRONMENTS[i % len(ENVIRONMENTS)]
        name = f"{prefix}{env_code}{i:06d}"
        minute, second = divmod(base_seconds + i, 60)
        if minute not in minutes:
            minutes[minute] = datetime.fromtimestamp(minute * 60, timezone.utc).strftime("%Y-%m-%d %H:%M:")
        stamp = f"{minutes[minute]}{second:02d}"
        row = dict(template)
        row.update(
            sys_id=sid("server", str(i)), name=name, host_name=name, fqdn=f"{name}.example.com",
            dns_domain="example.com", ip_address=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
            mac_address=f"00:50:56:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}",
            os=os_name, os_version=os_version, environment=env,
            operational_status="2" if i % 20 == 0 else "1",
            install_status="7" if i % 40 == 0 else ("3" if i % 25 == 0 else "1"),
            location=locations[i % len(locations)], support_group=groups[i % len(groups)],
            serial_number=f"SN{i:08d}", asset_tag=f"P{i:07d}",
            manufacturer="Dell Inc." if i % 2 else "HPE", model_id="PowerEdge R650" if i % 2 else "ProLiant DL360",
            cpu_count=str(2 + i % 3 * 2), cpu_core_count=str(8 + i % 4 * 8), ram=str(8192 * (1 + i % 4)),
            disk_space=str(100 * (1 + i % 5)), virtual="true" if i % 5 else "false",
            classification="Production" if env == "Production" else "Development",
            short_description=f"{os_name} server {name}", sys_created_on=stamp, sys_updated_on=stamp)
        rows.append(row)
        if i % 4 == 0:
            rels.append(_row(rel, stamp, sys_id=sid("rel", str(i)), parent=services[i % len(services)]["sys_id"],
                             child=row["sys_id"], type=depends_on))
    store.insert_many(server, rows, bulk=True)
    store.insert_many(rel, rels, bulk=True)
