"""Who publishes and who consumes every event: the one place the services' Kafka wiring is declared.

Services take their consumer group ids from here (`consumer_group`, which refuses a pair this catalogue
does not list), and the AsyncAPI document (`docs/asyncapi.yaml`, `python -m shared.asyncapi`) is generated from it
and from the event models themselves, so the document cannot drift from the code.
"""

from dataclasses import dataclass

from shared.events.base import Event
from shared.events.delivery import DeliveryStatusReceived
from shared.events.dispatches import DispatchesPrepared, DispatchTransmitted
from shared.events.members import MemberDeleted, MemberUpserted
from shared.events.requests import SendingRejected, SendingRequested
from shared.events.sendings import PreparationRangeDue, SendingScheduled, SendingStatusChanged

MEMBER_SERVICE = "member-service"  # the platform service that owns members (not part of this system)
PLATFORM_SERVICES = "platform services"  # any other service of the platform (events spec §1)

# Consumer groups. One group per topic: one group over two topics kept rebalancing.
PREPARER_GROUP = "preparer"
PREPARER_RANGES_GROUP = "preparer-ranges"
TRANSMITTER_GROUP = "transmitter"
RECEIPTS_GROUP = "delivery-receipts"
MEMBER_UPSERTS_GROUP = "api-member-upserts"
MEMBER_DELETIONS_GROUP = "api-member-deletions"
SENDING_REQUESTS_GROUP = "api-sending-requests"


@dataclass(frozen=True)
class Consumer:
    service: str
    group_id: str
    batch: bool = False


@dataclass(frozen=True)
class Flow:
    """One event type on its topic: its Kafka key, the services that publish it and those that consume it."""

    event: type[Event]
    key: str
    producers: tuple[str, ...]
    consumers: tuple[Consumer, ...] = ()


FLOWS: tuple[Flow, ...] = (
    Flow(SendingScheduled, "sending id", ("scheduler",), (Consumer("preparer", PREPARER_GROUP),)),
    Flow(PreparationRangeDue, "sending id:range number", ("preparer",), (Consumer("preparer", PREPARER_RANGES_GROUP),)),
    Flow(DispatchesPrepared, "sending id", ("preparer", "scheduler"), (Consumer("transmitter", TRANSMITTER_GROUP),)),
    Flow(DispatchTransmitted, "sending id", ("transmitter",)),
    Flow(
        DeliveryStatusReceived,
        "provider message id",
        ("delivery-receipts",),
        (Consumer("delivery-receipts", RECEIPTS_GROUP, batch=True),),
    ),
    Flow(MemberUpserted, "member id", (MEMBER_SERVICE,), (Consumer("api", MEMBER_UPSERTS_GROUP),)),
    Flow(MemberDeleted, "member id", (MEMBER_SERVICE,), (Consumer("api", MEMBER_DELETIONS_GROUP),)),
    Flow(
        SendingRequested,
        "request id",
        (PLATFORM_SERVICES,),
        (Consumer("api", SENDING_REQUESTS_GROUP, batch=True),),
    ),
    # For the platform's other services (and webhooks): no consumer of this system's own.
    Flow(SendingRejected, "request id", ("api",)),
    Flow(SendingStatusChanged, "sending id", ("scheduler",)),
)


def consumer_group(service: str, event: type[Event], batch: bool = False) -> str:
    """The consumer group in which `service` consumes `event`; a subscription missing here is refused."""
    for flow in FLOWS:
        for consumer in flow.consumers:
            if flow.event is event and consumer.service == service and consumer.batch == batch:
                return consumer.group_id
    raise LookupError(
        f"{service} consuming {event.__name__} (batch={batch}) is not in the event catalogue: declare it in "
        "shared.events.catalog, so the AsyncAPI document shows it"
    )
