"""change_template returns the template the backend stored, read back, not the values it was given."""

from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_template

VALUES = {"short_description": "  Rotate TLS certificates  ", "risk": "low", "description": None}


def test_the_result_is_the_template_read_back_from_the_store(task, local_backend):
    done = task(change_template, name="Rotate TLS", values=VALUES)
    assert done["changed"]
    assert done["template"] == local_backend.template("Rotate TLS")
    assert "description" not in done["template"]["fields"]
    assert done["diff"]["after"] == done["template"]


def test_check_mode_reports_the_template_it_would_store_and_stores_nothing(task, local_backend):
    done = task(change_template, check_mode=True, name="Rotate TLS", values=VALUES)
    assert done["changed"]
    assert local_backend.template("Rotate TLS") is None
    expected_fields = {"short_description": "  Rotate TLS certificates  ", "risk": "low"}
    assert done["template"] == {"name": "Rotate TLS", "fields": expected_fields}
