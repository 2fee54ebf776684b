"""The store seed.py and check_report.py work on: a local SQLite path, `servicenow` for the instance the
ITSM_URL / ITSM_CA_PATH / ITSM_USERNAME / ITSM_PASSWORD variables name, or `jsm` for the site ITSM_URL /
ITSM_CA_PATH / ITSM_USERNAME / ITSM_TOKEN name (the simulators in runme.sh)."""

import contextlib
import datetime as dt
import json
import os
import ssl
import urllib.request

from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils import _input
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

# The playbook's default report_days: records opened before that many days ago stay out of the report.
REPORT_DAYS = 30


REMOTE = ("servicenow", "jsm")


def open_store(where, username=None, token=None):
    """The backend of ``where``; on jsm as ``username`` with ``token`` when given (an approver answers as themselves)."""
    if where == "servicenow":
        return build_backend(ConnectionSettings(
            backend="servicenow", url=os.environ["ITSM_URL"], ca_path=os.environ["ITSM_CA_PATH"],
            username=os.environ["ITSM_USERNAME"], password=os.environ["ITSM_PASSWORD"]))
    if where == "jsm":
        return build_backend(ConnectionSettings(
            backend="jsm", url=os.environ["ITSM_URL"], ca_path=os.environ["ITSM_CA_PATH"],
            username=username if token else os.environ["ITSM_USERNAME"], token=token or os.environ["ITSM_TOKEN"]))
    return build_backend(ConnectionSettings(local_db=where, username=username))


def _set_simulator_clock(offset_seconds):
    request = urllib.request.Request(os.environ["ITSM_URL"] + "/__sim/clock", method="POST",
                                     data=json.dumps({"offset_seconds": offset_seconds}).encode(),
                                     headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=os.environ["ITSM_CA_PATH"])
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        response.read()


@contextlib.contextmanager
def days_ago(where, days):
    """Records written inside are opened (and moved on) ``days`` days ago: the store's clock is moved back,
    the simulator's through its /__sim/clock endpoint, the local store's in this process."""
    if where in REMOTE:
        _set_simulator_clock(-days * 86400)
        try:
            yield
        finally:
            _set_simulator_clock(0)
        return
    real_now = _input.now
    _input.now = lambda: records.format_datetime(records.utcnow() - dt.timedelta(days=days))
    try:
        yield
    finally:
        _input.now = real_now


def in_report(record, days=REPORT_DAYS):
    """Opened in the last ``days`` days, as the report counts them (records are days apart from the edge)."""
    since = records.utcnow() - dt.timedelta(days=days)
    return records.parse_datetime(record["opened_at"], "opened_at") >= since
