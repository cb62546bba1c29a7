"""The notifications service's settings (defaults in deploy/config.yaml), and
what its sender keeps per process."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.settings import Config, optional, required
from services.notifications import mail

# Not in deploy/config.yaml: the one default is here.
DEFAULT_MAX_BATCHES_PER_RUN = 50


@dataclass(frozen=True)
class NotificationsSettings:
    smtp: mail.SmtpSettings
    sender: str  # the From: of every email (SMTP_FROM)
    base_url: str  # of the links written in emails (PUBLIC_BASE_URL), no trailing slash
    organisers: tuple[str, ...]  # ORGANISER_EMAILS
    max_attempts: int
    batch_size: int
    connections: int  # SMTP connections in parallel (SMTP_CONNECTIONS)
    max_batches: int
    backoff_base: float
    backoff_cap: float
    lease: timedelta
    give_up: timedelta
    # Test-only fault injection: the process dies right after the Nth message
    # of its life was accepted by the SMTP server (the crash window).
    crash_after_accepted: int | None = None
    # Test-only: "<template>:<recipient>", an email whose rendering fails.
    template_fails_for: str | None = None

    @classmethod
    def from_config(cls, config: Config) -> "NotificationsSettings":
        crash = optional(config, "FAULT_CRASH_AFTER_SMTP_ACCEPTED")
        return cls(
            smtp=mail.parse_smtp_url(
                str(required(config, "SMTP_URL")), timeout=float(required(config, "SMTP_TIMEOUT_SECONDS"))
            ),
            sender=str(required(config, "SMTP_FROM")),
            base_url=str(required(config, "PUBLIC_BASE_URL")).rstrip("/"),
            organisers=tuple(
                item.strip()
                for item in str(required(config, "ORGANISER_EMAILS") or "").split(",")
                if item.strip()
            ),
            max_attempts=int(required(config, "SMTP_MAX_ATTEMPTS")),
            batch_size=int(required(config, "SMTP_BATCH_SIZE")),
            connections=max(int(required(config, "SMTP_CONNECTIONS")), 1),
            max_batches=int(optional(config, "SMTP_MAX_BATCHES_PER_RUN") or DEFAULT_MAX_BATCHES_PER_RUN),
            backoff_base=float(required(config, "SMTP_BACKOFF_SECONDS")),
            backoff_cap=float(required(config, "SMTP_BACKOFF_MAX_SECONDS")),
            lease=timedelta(seconds=float(required(config, "SENDING_LEASE_SECONDS"))),
            give_up=timedelta(hours=float(required(config, "SMTP_GIVE_UP_HOURS"))),
            crash_after_accepted=int(crash) if crash is not None else None,
            template_fails_for=optional(config, "FAULT_TEMPLATE_FAILS_FOR") or None,
        )


def check_smtp_url(config: Config) -> None:
    """At start-up: an SMTP_URL that would send credentials in clear text (or
    that does not read) stops the service (mail.InsecureSmtpSettings)."""
    mail.parse_smtp_url(str(required(config, "SMTP_URL")))


class SenderState:
    """(Per process) an SMTP outage's backoff, and the messages accepted so far
    (for the crash fault injection)."""

    def __init__(self) -> None:
        self.failures = 0
        self.until: datetime | None = None
        self.since: datetime | None = None
        self.accepted = 0

    def backing_off(self, now: datetime) -> bool:
        return self.until is not None and now < self.until

    def recovered(self) -> None:
        self.failures, self.until, self.since = 0, None, None
