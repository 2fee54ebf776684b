# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of connection options. FOR INTERNAL COLLECTION USE ONLY.

The module argument spec, the plugin options and the ``opsgate.itsm.connection`` doc fragment all
come from (or are checked against) ``CONNECTION_OPTIONS``; tests/unit cross-checks the three.
Options are flat, not a nested dict, because plugin env/ini sources cannot reach suboptions.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t

from ._errors import ItsmValidationError
from ._local_db import secrets as local_db_secrets

BACKEND_NAMES = ("local", "servicenow", "jsm")

CONNECTION_OPTIONS: dict[str, dict[str, t.Any]] = {
    "backend": dict(
        type="str", choices=list(BACKEND_NAMES), default="local", env="ITSM_BACKEND",
        description="The system of record. C(local) is an embedded SQLite store that needs no server.",
    ),
    "url": dict(
        type="str", env="ITSM_URL",
        description="Base URL of the ServiceNow instance or Jira site (on C(jsm), also the scoped API token form "
                    "C(https://api.atlassian.com/ex/jira/{cloudId})). Not used by C(local).",
    ),
    "username": dict(
        type="str", env="ITSM_USERNAME",
        description="User for basic authentication (Jira Cloud: the account e-mail, with its API token in "
                    "C(token)). On C(local), the actor written to the journal; defaults to the operating-system user.",
    ),
    "password": dict(
        type="str", no_log=True, env="ITSM_PASSWORD",
        description="Password for basic authentication (ServiceNow, Jira Data Center).",
    ),
    "token": dict(
        type="str", no_log=True, env="ITSM_TOKEN",
        description="Bearer token (a pre-issued ServiceNow OAuth token or a Jira Data Center personal access "
                    "token). On C(jsm) with C(username), a Jira Cloud API token, sent as basic authentication.",
    ),
    "api_key": dict(
        type="str", no_log=True, env="ITSM_API_KEY",
        description="ServiceNow API key, sent as C(x-sn-apikey).",
    ),
    "client_id": dict(
        type="str", env="ITSM_CLIENT_ID",
        description="OAuth client id (ServiceNow).",
    ),
    "client_secret": dict(
        type="str", no_log=True, env="ITSM_CLIENT_SECRET",
        description="OAuth client secret (ServiceNow).",
    ),
    "validate_certs": dict(
        type="bool", default=True, env="ITSM_VALIDATE_CERTS",
        description="Verify the server's TLS certificate.",
    ),
    "ca_path": dict(
        type="path", env="ITSM_CA_PATH",
        description="CA bundle used to verify the server's certificate.",
    ),
    "proxy": dict(
        type="str", env="ITSM_PROXY",
        description="HTTP(S) proxy for the C(servicenow) and C(jsm) backends, such as C(http://proxy.example.com:3128) "
                    "(HTTPS goes through it with C(CONNECT)). A password in the URL is never shown. "
                    "Unset, the standard C(https_proxy) and C(no_proxy) variables apply.",
    ),
    "timeout": dict(
        type="float", default=30.0, env="ITSM_TIMEOUT", expects="expected a number of seconds, like 30 or 2.5",
        description="Seconds to wait for one request (on C(local), for the database lock).",
    ),
    "retries": dict(
        type="int", default=3, env="ITSM_RETRIES", expects="expected a whole number of retries, like 3",
        description="How many times a transient failure (rate limit, 502/503/504, reset) is retried.",
    ),
    "local_db": dict(
        # str, not path: a path option would turn a PostgreSQL URL into a file path (a plugin's even into an
        # absolute one); _local_db.read expands a file path as the path type did.
        type="str", env="ITSM_LOCAL_DB",
        description="Store of the C(local) backend: the path of an SQLite file, or a PostgreSQL URL such as "
                    "C(postgresql://itsm@db.example.com:5432/itsm?sslmode=verify-full) (the password comes from "
                    "C(password), else from the URL; TLS and other libpq options go in the URL; needs the "
                    "C(psycopg) Python package). Any other C(scheme://) is refused. Defaults to the file "
                    "C(opsgate_itsm/itsm.sqlite) under the Ansible home (C(ANSIBLE_HOME), else C(home) in "
                    "C(ansible.cfg), else C(~/.ansible)).",
    ),
    "jsm_mapping": dict(
        type="path", env="ITSM_JSM_MAPPING",
        description="YAML file mapping the canonical states, fields and values to a customised Jira Service "
                    "Management project (its key, issue and request types, statuses, field names and option "
                    "values), for the C(jsm) backend. Unset, the mapping of the standard ITSM templates "
                    "applies. Not used by the other backends.",
    ),
}

SECRET_OPTIONS = tuple(name for name, spec in CONNECTION_OPTIONS.items() if spec.get("no_log"))

# What a value of each argument type must look like, said plainly. ansible-core's own message for a value
# it cannot convert names its internal classes ("<class '..._AnsibleTaggedStr'> cannot be converted to a
# float", issue 12); an option of the table may say more (``expects``).
TYPE_EXPECTATIONS = {
    "int": "expected a whole number, like 3",
    "float": "expected a number, like 30 or 2.5",
    "bool": "expected true or false (yes/no, on/off and 1/0 work too)",
    # core turns a list or a dict given for text into its Python repr ("['a']"): a correlation id, a name or even a
    # local_db file nobody meant (issue 14, found by the property tests)
    "str": "expected text, not a list or a dict",
    "path": "expected a path, not a list or a dict",
    # core's own message for an item it cannot make a dict names no option ("dictionary requested, could not parse")
    "list of dicts": "expected a list of dicts",
}


def connection_argument_spec() -> dict[str, dict[str, t.Any]]:
    """Module argument spec entries for the connection options, with their env fallbacks."""
    from ansible.module_utils.basic import env_fallback

    spec = {}
    for name, option in CONNECTION_OPTIONS.items():
        entry = {key: option[key] for key in ("type", "choices", "default", "no_log") if key in option}
        entry["fallback"] = (env_fallback, [option["env"]])
        spec[name] = entry
    return spec


def refuse_mistyped(spec: t.Mapping[str, t.Mapping[str, t.Any]], args: t.Mapping[str, t.Any],
                    environ: t.Mapping[str, str] | None = None) -> None:
    """Refuse, plainly and naming the option, a value of an int, float or bool option that the argument spec's
    own conversion would refuse, and a list or dict given for text (str, path), which it would turn into its repr;
    a value left out is read from its environment variable, as the spec does."""
    from ansible.module_utils.common.validation import check_type_bool, check_type_float, check_type_int

    checks = {"int": check_type_int, "float": check_type_float, "bool": check_type_bool,
              "str": _check_type_text, "path": _check_type_text}
    environ = os.environ if environ is None else environ
    for name, option in spec.items():
        kind = "list of dicts" if (option.get("type"), option.get("elements")) == ("list", "dict") else option.get("type")
        check = _check_list_of_dicts if kind == "list of dicts" else checks.get(kind)
        if check is None:
            continue
        value, source = args.get(name), ""
        if value is None and option.get("fallback"):
            env = option["fallback"][1][0]
            value, source = environ.get(env), f"; the value comes from {env}"
        if value is None:
            continue
        try:
            check(value)
        except (TypeError, ValueError):
            expects = CONNECTION_OPTIONS.get(name, {}).get("expects") or TYPE_EXPECTATIONS[kind]
            shown = str(value) if isinstance(value, str) else value
            # a secret's value is never shown, whatever its type (a list is no single text the result's masking finds)
            raise ItsmValidationError(name, "(hidden)" if option.get("no_log") else shown, expects + source) from None


def _check_type_text(value: t.Any) -> None:
    """Text, or a scalar core turns into text (a number from YAML); never a collection."""
    if isinstance(value, (list, tuple, set, dict)):
        raise TypeError(f"{type(value).__name__} given for text")


def _check_list_of_dicts(value: t.Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TypeError("not a list of dicts")


@dataclasses.dataclass(frozen=True)
class ConnectionSettings:
    """Resolved connection options, the same object whether they came from a task or a plugin."""

    backend: str = "local"
    url: str | None = None
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    token: str | None = dataclasses.field(default=None, repr=False)
    api_key: str | None = dataclasses.field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = dataclasses.field(default=None, repr=False)
    validate_certs: bool = True
    ca_path: str | None = None
    proxy: str | None = dataclasses.field(default=None, repr=False)  # may carry user:password
    timeout: float = 30.0
    retries: int = 3
    local_db: str | None = None
    jsm_mapping: str | None = None

    @classmethod
    def from_mapping(cls, values: t.Mapping[str, t.Any]) -> "ConnectionSettings":
        """Build from validated module params (extra keys are ignored)."""
        return cls(**{name: values[name] for name in CONNECTION_OPTIONS if values.get(name) is not None})

    @classmethod
    def from_plugin(cls, get_option: t.Callable[[str], t.Any]) -> "ConnectionSettings":
        """Build from a plugin's resolved options (config manager: ini, env, vars)."""
        return cls.from_mapping({name: get_option(name) for name in CONNECTION_OPTIONS})

    def secrets(self) -> list[str]:
        """The values to mask wherever text is shown: the secret options, and a password in a local_db URL."""
        return [value for value in (getattr(self, name) for name in SECRET_OPTIONS) if value] + list(
            local_db_secrets(self.local_db))


def default_local_db() -> str:
    """``opsgate_itsm/itsm.sqlite`` under the Ansible home: ANSIBLE_HOME, else ~/.ansible.

    module_utils may not read Ansible's configuration, so the controller entry points publish the
    configured home (``home`` in ansible.cfg included) in ANSIBLE_HOME first: plugin_utils/_home.py.
    """
    home = os.environ.get("ANSIBLE_HOME") or os.path.join("~", ".ansible")
    return os.path.join(os.path.expanduser(home), "opsgate_itsm", "itsm.sqlite")
