"""A run's conf against the DAG's Params, as the details endpoint gives them."""

from __future__ import annotations

import pytest
from sparkplane.client.conf_check import ConfError, check_conf

PARAMS = {
    "days": {"value": 7, "schema": {"type": "integer", "minimum": 1, "maximum": 31}, "description": "days in the window"},
    "region": {"value": "all", "schema": {"type": "string", "enum": ["all", "emea"]}, "description": None},
    "run_date": {"value": None, "schema": {"type": ["null", "string"], "format": "date"}, "description": None},
    "min_amount": {"value": 0.0, "schema": {"type": "number", "maximum": 10}, "description": None},
}


def test_a_fitting_conf_passes_and_an_unknown_key_is_a_warning():
    warnings = check_conf({"days": 14, "run_date": "2026-11-01", "min_amount": 2, "colour": "red"}, PARAMS)
    assert warnings == ["conf key 'colour' is not a Param of this DAG and is ignored by its tasks "
                        "(Params: days, min_amount, region, run_date)"]  # fmt: skip


@pytest.mark.parametrize(("conf", "message"), [
    ({"days": 40}, r"conf\['days'\] = 40 is refused by Param 'days': 40 is greater than the maximum of 31 \(days in the window\)"),
    ({"days": 2.0}, r"conf\['days'\] = 2.0 is a float, and Param 'days' takes a whole number: pass 2"),
    ({"region": "mars"}, r"'mars' is not one of \['all', 'emea'\]"),
    ({"run_date": "yesterday"}, r"'yesterday' is not a 'date'"),
])  # fmt: skip
def test_a_bad_value_is_refused_naming_the_key(conf, message):
    with pytest.raises(ConfError, match=message):
        check_conf(conf, PARAMS)
