"""TEST_INFRA: containers wherever a Docker engine answers (auto), the embedded servers elsewhere."""

from __future__ import annotations

import sys

import pytest
from tests.infra_choice import InfraSettingError, choose_infra, describe_infra, docker_answers


def engine_answers() -> bool:
    return True


def no_engine() -> bool:
    return False


def never_asked() -> bool:
    raise AssertionError("Docker was probed although the setting does not depend on it")


def test_auto_runs_on_containers_where_a_docker_engine_answers() -> None:
    assert choose_infra("auto", engine_answers) == "containers"


def test_auto_falls_back_to_the_embedded_servers_without_a_docker_engine() -> None:
    assert choose_infra("auto", no_engine) == "embedded"


def test_an_unset_or_empty_setting_means_auto() -> None:
    assert choose_infra("", no_engine) == "embedded"
    assert choose_infra("  ", engine_answers) == "containers"


def test_embedded_runs_embedded_without_asking_docker() -> None:
    assert choose_infra("embedded", never_asked) == "embedded"


def test_containers_runs_on_containers_where_a_docker_engine_answers() -> None:
    assert choose_infra("Containers", engine_answers) == "containers"


def test_containers_without_a_docker_engine_is_an_error_that_says_so() -> None:
    with pytest.raises(InfraSettingError, match="no Docker engine answers") as raised:
        choose_infra("containers", no_engine)
    assert raised.value.setting == "containers"


def test_an_unknown_setting_is_an_error_that_names_the_known_ones() -> None:
    with pytest.raises(InfraSettingError, match=r"TEST_INFRA='docker' is none of auto, containers, embedded"):
        choose_infra("docker", never_asked)


def test_the_header_says_what_was_chosen_and_why() -> None:
    assert describe_infra("auto", "embedded") == "infrastructure: embedded (TEST_INFRA=auto, no Docker engine answered)"
    assert describe_infra("", "containers") == "infrastructure: containers (TEST_INFRA=auto, a Docker engine answered)"
    assert describe_infra("embedded", "embedded") == "infrastructure: embedded (TEST_INFRA=embedded)"


def test_a_missing_docker_binary_means_no_engine() -> None:
    assert not docker_answers(("docker-binary-that-is-not-installed", "info"))


def test_a_failing_or_silent_probe_means_no_engine_and_a_succeeding_one_an_engine() -> None:
    assert not docker_answers((sys.executable, "-c", "raise SystemExit(1)"))
    assert not docker_answers((sys.executable, "-c", "import time; time.sleep(5)"), timeout=0.2)
    assert docker_answers((sys.executable, "-c", "pass"))
