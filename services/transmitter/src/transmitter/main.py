"""Composition root of the transmitter: the provider chosen by configuration, the batch consumer."""

from collections.abc import Callable

from shared.events import DispatchesPrepared
from shared.events.catalog import consumer_group
from shared.kafka import consume
from shared.logging import configure_logging
from shared.runtime import Runtime
from shared.worker import run_worker, start
from transmitter.claims import Claims
from transmitter.config import TransmitterSettings
from transmitter.handlers import on_dispatches_prepared
from transmitter.outcomes import Outcomes
from transmitter.pacing import Pacer
from transmitter.providers.base import ChannelProviders, Provider
from transmitter.providers.fcm import FcmPush
from transmitter.providers.sandbox import SandboxProvider
from transmitter.providers.sendgrid import SendGridEmail
from transmitter.providers.smtp import SmtpEmail
from transmitter.providers.twilio import TwilioSms
from transmitter.service import Sender, count_outcomes

GROUP = consumer_group("transmitter", DispatchesPrepared)
CHANNELS = ("sms", "email", "push")


def make_providers(settings: TransmitterSettings, runtime: Runtime) -> ChannelProviders:
    """Each channel's provider as configured; `sandbox` (the default) serves any channel left to it."""
    sandbox = SandboxProvider(
        runtime.pool,
        settings.sandbox_receipts_url,
        settings.sandbox_webhook_secret,
        settings.sandbox_receipt_delay_seconds,
    )
    sms: Provider = sandbox
    if settings.sms_provider == "twilio":
        sms = TwilioSms(
            settings.twilio_base_url,
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            f"{settings.receipts_public_url.rstrip('/')}/webhooks/twilio",
            settings.twilio_messaging_service_sid,
            settings.provider_connections,
            settings.provider_timeout_seconds,
        )
    email: Provider = sandbox
    if settings.email_provider == "sendgrid":
        email = SendGridEmail(
            settings.sendgrid_base_url,
            settings.sendgrid_api_key,
            settings.provider_connections,
            settings.provider_timeout_seconds,
        )
    elif settings.email_provider == "smtp":
        email = SmtpEmail(
            settings.smtp_host, settings.smtp_port, settings.smtp_username, settings.smtp_password,
            settings.smtp_starttls, settings.smtp_connections, settings.provider_timeout_seconds,
            message_id_domain=settings.message_id_domain,
        )  # fmt: skip
    push: Provider = sandbox
    if settings.push_provider == "fcm":
        push = FcmPush(
            settings.fcm_base_url,
            settings.fcm_project_id,
            settings.fcm_credentials_file,
            settings.provider_connections,
            settings.provider_timeout_seconds,
        )
    return ChannelProviders({"sms": sms, "email": email, "push": push})


def register(settings: TransmitterSettings, senders: list[Sender]) -> Callable[[Runtime], None]:
    """The batch consumer and the loops of claims and outcomes, around one `Sender` (kept in `senders`)."""

    def setup(runtime: Runtime) -> None:
        sender = Sender(
            make_providers(settings, runtime),
            {channel: Pacer(settings.rate_limit(channel), settings.transmit_concurrency) for channel in CHANNELS},
            Claims(runtime.pool, settings.claim_lease_seconds),
            Outcomes(runtime.pool, settings.outcomes_flush_seconds, count_outcomes),
            settings.retry_deadline_seconds,
            settings.retry_base_seconds,
            settings.retry_max_seconds,
            settings.unsubscribe_target,
            settings.unsubscribe_secret,
        )
        senders.append(sender)
        runtime.on_stop(sender.stop)
        runtime.spawn("claims", sender.claims.run)
        runtime.spawn("outcomes", sender.outcomes.run)
        consume(runtime.broker, settings, DispatchesPrepared, GROUP, on_dispatches_prepared(runtime, sender),
                workers=settings.transmitter_workers)  # fmt: skip

    return setup


async def serve(settings: TransmitterSettings) -> None:
    senders: list[Sender] = []

    async def close_senders() -> None:
        for sender in senders:
            await sender.providers.close()
            for pacer in sender.pacers.values():
                await pacer.close()

    await run_worker("transmitter", settings, register(settings, senders), after=close_senders)


def run() -> None:
    settings = TransmitterSettings()
    configure_logging("transmitter", settings.log_level, settings.log_json)
    start(serve(settings))
