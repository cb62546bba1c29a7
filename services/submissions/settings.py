"""The submissions service's settings (defaults in deploy/config.yaml)."""

from dataclasses import dataclass
from datetime import timedelta

from services.common.settings import Config, optional, required


@dataclass(frozen=True)
class SubmissionsSettings:
    secret_key: str  # signs the collectivités' bearer tokens (LABEL_SECRET_KEY)
    reminder_days_before_deadline: float
    token_lifetime: timedelta  # API_TOKEN_DAYS
    unconfirmed_lifetime: timedelta  # UNCONFIRMED_SIGN_UP_HOURS, or UNCONFIRMED_SIGN_UP_SECONDS (tests)

    @classmethod
    def from_config(cls, config: Config) -> "SubmissionsSettings":
        return cls(
            secret_key=str(required(config, "LABEL_SECRET_KEY")),
            reminder_days_before_deadline=float(required(config, "REMINDER_DAYS_BEFORE_DEADLINE")),
            token_lifetime=timedelta(days=float(required(config, "API_TOKEN_DAYS"))),
            unconfirmed_lifetime=timedelta(
                seconds=float(
                    optional(config, "UNCONFIRMED_SIGN_UP_SECONDS")
                    or float(required(config, "UNCONFIRMED_SIGN_UP_HOURS")) * 3600
                )
            ),
        )


class ClosedYears:
    """(Per process) the years whose submissions_closed is recorded: spares the
    timer a failing insert every tick (the ledger's unique key is what really guards it)."""

    def __init__(self) -> None:
        self.years: set[int] = set()
