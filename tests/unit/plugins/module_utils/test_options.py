"""The options table feeds the module argspec, the plugin options and the doc fragment alike."""

import yaml

from ansible_collections.opsgate.itsm.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.opsgate.itsm.plugins.module_utils._options import (
    CONNECTION_OPTIONS,
    SECRET_OPTIONS,
    ConnectionSettings,
    connection_argument_spec,
)

EXPECTED_ENV = {
    "backend": "ITSM_BACKEND", "url": "ITSM_URL", "username": "ITSM_USERNAME", "password": "ITSM_PASSWORD",
    "token": "ITSM_TOKEN", "api_key": "ITSM_API_KEY", "client_id": "ITSM_CLIENT_ID",
    "client_secret": "ITSM_CLIENT_SECRET", "validate_certs": "ITSM_VALIDATE_CERTS", "ca_path": "ITSM_CA_PATH",
    "timeout": "ITSM_TIMEOUT", "retries": "ITSM_RETRIES", "local_db": "ITSM_LOCAL_DB",
}


def test_table_has_the_issue_options_and_env_names():
    assert {name: option["env"] for name, option in CONNECTION_OPTIONS.items()} == EXPECTED_ENV


def test_secrets_are_no_log():
    assert set(SECRET_OPTIONS) == {"password", "token", "api_key", "client_secret"}
    spec = connection_argument_spec()
    assert {name for name, option in spec.items() if option.get("no_log")} == set(SECRET_OPTIONS)


def test_argspec_env_fallback_matches_table():
    for name, option in connection_argument_spec().items():
        assert option["fallback"][1] == [CONNECTION_OPTIONS[name]["env"]]
        assert option["type"] == CONNECTION_OPTIONS[name]["type"]
        assert option.get("default") == CONNECTION_OPTIONS[name].get("default")


def test_module_fragment_matches_table():
    options = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert list(options) == list(CONNECTION_OPTIONS)
    for name, documented in options.items():
        table = CONNECTION_OPTIONS[name]
        assert documented["type"] == table["type"]
        assert documented.get("default") == table.get("default")
        assert documented.get("choices") == table.get("choices")
        assert table["env"] in " ".join(documented["description"])


def test_plugin_fragment_reads_the_same_env_and_ini():
    options = yaml.safe_load(ModuleDocFragment.PLUGINS)["options"]
    assert list(options) == list(CONNECTION_OPTIONS)
    for name, sources in options.items():
        assert sources["env"] == [{"name": CONNECTION_OPTIONS[name]["env"]}]
        assert sources["ini"] == [{"section": "opsgate_itsm", "key": name}]


def test_settings_from_plugin_and_module_agree():
    values = {"backend": "servicenow", "url": "https://x.example", "password": "s3cret", "retries": 5}
    from_module = ConnectionSettings.from_mapping(values)
    from_plugin = ConnectionSettings.from_plugin(values.get)
    assert from_module == from_plugin
    assert "s3cret" not in repr(from_module)
    assert from_module.secrets() == ["s3cret"]
