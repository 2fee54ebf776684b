"""The store seed.py and check_report.py work on: a local SQLite path, or `servicenow` for the instance the
ITSM_URL / ITSM_CA_PATH / ITSM_USERNAME / ITSM_PASSWORD variables name (the simulator in runme.sh)."""

import os

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend


def open_store(where, username=None):
    if where != "servicenow":
        return build_backend(ConnectionSettings(local_db=where, username=username))
    return build_backend(ConnectionSettings(
        backend="servicenow", url=os.environ["ITSM_URL"], ca_path=os.environ["ITSM_CA_PATH"],
        username=os.environ["ITSM_USERNAME"], password=os.environ["ITSM_PASSWORD"]))
