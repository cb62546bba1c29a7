"""The jury service's settings (defaults in deploy/config.yaml).

The claim lease (CLAIM_LEASE_HOURS / CLAIM_LEASE_SECONDS) is still read by
logic.lease_duration from the raw config: moving it here waits for the work
under way in logic.py."""

from dataclasses import dataclass

from services.common.settings import Config, optional, required

# Not in deploy/config.yaml: the one default is here.
DEFAULT_SNAPSHOT_SECONDS = 30.0


@dataclass(frozen=True)
class JurySettings:
    secret_key: str  # signs the jurors' bearer tokens (LABEL_SECRET_KEY)
    digest_seconds: float  # REVIEW_DIGEST_SECONDS
    snapshot_seconds: float  # CLAIM_SNAPSHOT_SECONDS: age of the task list a claim may use

    @classmethod
    def from_config(cls, config: Config) -> "JurySettings":
        return cls(
            secret_key=str(required(config, "LABEL_SECRET_KEY")),
            digest_seconds=float(required(config, "REVIEW_DIGEST_SECONDS")),
            snapshot_seconds=float(optional(config, "CLAIM_SNAPSHOT_SECONDS") or DEFAULT_SNAPSHOT_SECONDS),
        )
