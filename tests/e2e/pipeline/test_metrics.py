"""Prometheus /metrics of every running service, scraped before and after an end-to-end sending: the
counters moved by exactly the sending's amounts."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.conftest import Stack
from tests.e2e.sendings import post_sending, wait_for_delivery

RECIPIENTS = [{"msisdn": f"47900005{i:02d}", "properties": {"name": f"R{i}"}} for i in range(5)]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(stack: Stack, service: str) -> Samples:
    async with stack.http.get(stack.metrics_urls[service]) as response:
        assert response.status == 200, service
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_of_every_service_move_by_the_sendings_amounts(stack: Stack) -> None:
    services = ("api", "scheduler", "preparer", "transmitter", "delivery-receipts")
    before = {s: await scrape(stack, s) for s in services}
    headers = stack.new_tenant("metrics")
    sending_id = await post_sending(stack, headers, {"schedule": {"type": "immediate"}, "recipients": RECIPIENTS})
    await wait_for_delivery(stack, headers, sending_id, 30)

    async def moved(service: str, name: str, **labels: str) -> float:
        after = await scrape(stack, service)
        return value(after, name, **labels) - value(before[service], name, **labels)

    n = len(RECIPIENTS)
    assert await moved("preparer", "messaging_dispatches_prepared_total", channel="sms") == n
    assert await moved("transmitter", "messaging_dispatches_transmitted_total", channel="sms", provider="sandbox") == n
    assert await moved("transmitter", "messaging_provider_request_seconds_count", provider="sandbox") == n
    assert await moved("delivery-receipts", "messaging_delivery_receipts_total", provider="sandbox",
                       outcome="applied") == n  # fmt: skip
    assert await moved("delivery-receipts", "messaging_dispatches_delivery_final_total", provider="sandbox",
                       status="delivered") == n  # fmt: skip
    post = "/v1/messages/{service_name}"
    assert await moved("api", "messaging_http_request_seconds_count", method="POST", route=post, status="201") == 1
    api = await scrape(stack, "api")
    assert value(api, "messaging_sendings", status="transmitted") >= 1
    lag = [k for k in (await scrape(stack, "transmitter")) if k[0] == "messaging_consumer_lag"]
    assert lag, "the transmitter reports its consumer lag"


async def test_every_service_answers_its_probes_with_its_own_readiness(stack: Stack) -> None:
    """The paths the Kubernetes probes use exist on every service and answer 200 on a healthy stack."""
    for service, metrics_url in stack.metrics_urls.items():
        for probe in ("/healthz", "/readyz"):
            async with stack.http.get(metrics_url.removesuffix("/metrics") + probe) as response:
                assert response.status == 200, (service, probe, await response.text())
    async with stack.http.get(stack.api_url + "/readyz/pipeline") as response:
        assert response.status == 200, await response.text()
