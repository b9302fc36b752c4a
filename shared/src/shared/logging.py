"""structlog set-up: JSON lines when stderr is not a terminal, coloured console output when it is."""

import logging
import sys
from typing import Any

import orjson
import structlog


def _dumps(value: Any, **kwargs: Any) -> str:
    return orjson.dumps(value, default=kwargs.get("default")).decode()


def configure_logging(service: str, level: str = "INFO", json: bool | None = None) -> None:
    """Route structlog and the standard library's logging through one renderer, with `service` bound."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_dumps) if use_json else structlog.dev.ConsoleRenderer()
    )
    shared_processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # FastStream gives its own logger a coloured plain-text handler: one format for every line instead.
    faststream = logging.getLogger("faststream")
    faststream.handlers = []
    faststream.propagate = True
    # aiokafka logs every rebalance and coordinator change at INFO; keep those for debugging only.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(service=service)
