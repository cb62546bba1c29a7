"""The jury service's settings (defaults in deploy/config.yaml)."""

from dataclasses import dataclass
from datetime import timedelta

from services.common.settings import Config, required
from services.jury.eligibility import lease_duration


@dataclass(frozen=True)
class JurySettings:
    secret_key: str  # signs the jurors' bearer tokens (LABEL_SECRET_KEY)
    digest_seconds: float  # REVIEW_DIGEST_SECONDS
    snapshot_seconds: float  # CLAIM_SNAPSHOT_SECONDS: how often a claim copy catches up with other replicas
    claim_lease: timedelta  # CLAIM_LEASE_HOURS, or CLAIM_LEASE_SECONDS when set (tests)
    token_lifetime: timedelta  # API_TOKEN_DAYS

    @classmethod
    def from_config(cls, config: Config) -> "JurySettings":
        return cls(
            secret_key=str(required(config, "LABEL_SECRET_KEY")),
            digest_seconds=float(required(config, "REVIEW_DIGEST_SECONDS")),
            snapshot_seconds=float(required(config, "CLAIM_SNAPSHOT_SECONDS")),
            claim_lease=lease_duration(config),
            token_lifetime=timedelta(days=float(required(config, "API_TOKEN_DAYS"))),
        )
