# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS settings on every remote backend's simulator (issue 14, items 9 and 11).

``validate_certs: false`` is said once per task (one backend) in the collection's own words, naming the URL:
urllib3's warning is hidden by ``PYTHONWARNINGS=ignore`` and names no setting. A certificate that does not verify
fails with its cause (``CERTIFICATE_VERIFY_FAILED``) in the message.
"""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmSettingsError
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.jsm import JsmBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import ServiceNowBackend
from tests.unit.plugins.module_utils.backends import jsm_sim, sn_sim


def _settings(name: str, **changes):
    if name == "servicenow":
        return ServiceNowBackend, sn_sim.settings(sn_sim.simulator(), **changes)
    return JsmBackend, dataclasses.replace(jsm_sim.settings(jsm_sim.simulator(name.split("-")[1])), **changes)


@pytest.mark.parametrize("name", ["servicenow", "jsm-cloud", "jsm-datacenter"])
def test_validate_certs_false_warns_once_naming_the_url(name):
    cls, settings = _settings(name, validate_certs=False)
    warnings: list[str] = []
    backend = cls(settings, warn=warnings.append, sleep=lambda seconds: None)
    try:
        created = backend.create("incident", {"short_description": "unverified"})
        backend.get("incident", number=created["number"])
    finally:
        backend.close()

    said = [line for line in warnings if "validate_certs" in line]
    assert len(said) == 1
    assert said[0].startswith(f"validate_certs: false: the certificate of {settings.url.rstrip('/')} is not verified")


@pytest.mark.parametrize("name", ["servicenow", "jsm-cloud"])
def test_verified_certificates_say_nothing(name):
    cls, settings = _settings(name)
    warnings: list[str] = []
    backend = cls(settings, warn=warnings.append, sleep=lambda seconds: None)
    try:
        backend.find_limited("incident", {}, 1)
    finally:
        backend.close()
    assert not [line for line in warnings if "validate_certs" in line]


@pytest.mark.parametrize("name", ["servicenow", "jsm-cloud"])
def test_a_certificate_that_does_not_verify_keeps_its_cause(name, monkeypatch):
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    cls, settings = _settings(name, ca_path=None, retries=0)
    backend = cls(settings, sleep=lambda seconds: None)
    try:
        with pytest.raises(ItsmSettingsError) as refused:
            backend.find_limited("incident", {}, 1)
    finally:
        backend.close()
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    assert refused.value.details["option"] == "ca_path"
