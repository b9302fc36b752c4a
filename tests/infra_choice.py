"""Which servers the tests run on (TEST_INFRA): PostgreSQL and Apache Kafka in containers, or the embedded ones.

Tansu is not Kafka (no idempotent producer, no transactions, memory only), so wherever a Docker engine answers
the tests run on the real servers; elsewhere they run on the embedded PostgreSQL and the Tansu broker.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from typing import Literal, get_args

Infra = Literal["containers", "embedded"]
Setting = Literal["auto", "containers", "embedded"]
SETTINGS: tuple[str, ...] = get_args(Setting)
DOCKER_PROBE_SECONDS = 5.0


class InfraSettingError(ValueError):
    """TEST_INFRA asks for what cannot be had: an unknown value, or containers without a Docker engine."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


def choose_infra(setting: str, docker_answers: Callable[[], bool]) -> Infra:
    """The servers TEST_INFRA=`setting` means; `docker_answers` is asked only when the answer depends on it."""
    normalised = setting.strip().lower() or "auto"
    if normalised not in SETTINGS:
        raise InfraSettingError(setting, f"TEST_INFRA={setting!r} is none of {', '.join(SETTINGS)}")
    if normalised == "embedded":
        return "embedded"
    answers = docker_answers()
    if normalised == "containers" and not answers:
        raise InfraSettingError(
            setting, "TEST_INFRA=containers, but no Docker engine answers `docker info` (start one, or use auto)"
        )
    return "containers" if answers else "embedded"


def describe_infra(setting: str, infra: Infra) -> str:
    """The pytest header line saying which servers were chosen and why."""
    normalised = setting.strip().lower() or "auto"
    if normalised != "auto":
        return f"infrastructure: {infra} (TEST_INFRA={normalised})"
    why = "a Docker engine answered" if infra == "containers" else "no Docker engine answered"
    return f"infrastructure: {infra} (TEST_INFRA=auto, {why})"


def docker_answers(command: Sequence[str] = ("docker", "info"), timeout: float = DOCKER_PROBE_SECONDS) -> bool:
    """True when `docker info` succeeds within `timeout`; a missing `docker` binary means no engine."""
    try:
        done = subprocess.run(
            list(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
