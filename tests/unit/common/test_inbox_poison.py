"""The inbox's test-only poison switch (FAULT_POISON_FIRST_EVENT, tests/faults)."""

import pytest

from services.common.inbox import Poison


def test_empty_switch_never_fails():
    poison = Poison("")
    poison.check("application_submitted", "on_application_submitted", "e1")


def test_each_handler_fails_on_its_first_listed_event_only_and_at_every_attempt():
    poison = Poison("application_submitted, results_released")
    for _ in range(3):  # every redelivery of that one message fails again
        with pytest.raises(RuntimeError, match="FAULT_POISON_FIRST_EVENT"):
            poison.check("application_submitted", "on_application_submitted", "e1")
    poison.check("application_submitted", "on_application_submitted", "e2")
    poison.check("campaign_opened", "on_campaign_opened", "e3")  # not listed
    with pytest.raises(RuntimeError):
        poison.check("results_released", "on_results_released", "e4")


def test_all_lists_every_event():
    poison = Poison("all")
    with pytest.raises(RuntimeError):
        poison.check("campaign_opened", "on_campaign_opened", "e1")
    poison.check("campaign_opened", "on_campaign_opened", "e2")
