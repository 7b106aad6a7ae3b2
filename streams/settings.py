"""One frozen settings object, read from environment variables and an optional TOML file.

Precedence, highest first: command-line options, environment variables, the
config file (``--config`` or ``TOUCHPOINT_CONFIG``), defaults. Every variable
is listed in docs/configuration.md. Nothing else in the project reads
``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator

if TYPE_CHECKING:
    from projections.churn_rules import ChurnRules

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

EMBEDDED_PORT = 9092
DEV_PEPPER = "touchpoint-dev-pepper-change-me"
MIN_API_KEY = 8  # characters of each API key, at least


class Settings(BaseSettings):
    """Everything a touchpoint process needs to know about its surroundings."""

    model_config = SettingsConfigDict(
        env_prefix="TOUCHPOINT_",
        frozen=True,
        extra="ignore",
        env_ignore_empty=True,  # an empty variable means "not set", never an empty secret
        populate_by_name=True,
    )

    bootstrap_servers: str = Field(
        f"127.0.0.1:{EMBEDDED_PORT}",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "TOUCHPOINT_BOOTSTRAP_SERVERS"),
        description="Kafka bootstrap servers, comma-separated.",
    )
    broker_profile: Literal["auto", "kafka", "tansu"] = Field(
        "auto",
        description="Client timeouts: 'kafka' (Apache Kafka), 'tansu' (fast group joins on the "
        "embedded broker), or 'auto' (ask the cluster).",
    )
    db: Path = Field(Path("touchpoint.duckdb"), description="DuckDB read-model file.")
    topic_prefix: str = Field("", description="Prefix for every topic name (e.g. 'staging.').")
    partitions: int = Field(6, ge=1, description="Partitions for new topics.")
    replication_factor: int = Field(1, ge=1, description="Replication factor for new topics.")
    client_id: str = Field("touchpoint", description="Kafka client id.")
    key_vault: Path = Field(
        Path(".touchpoint/keys.sqlite"), description="File of per-customer PII keys."
    )
    pii_pepper: SecretStr = Field(
        SecretStr(DEV_PEPPER),
        min_length=8,
        description="Secret for identifier fingerprints (set in production).",
    )
    embedded_port: int = Field(EMBEDDED_PORT, description="Port of `touchpoint broker`.")
    reporting_currency: str = Field(
        "EUR", pattern=r"^[A-Z]{3}$", description="Currency of customer value and CLV."
    )
    fx_rates: dict[str, float] = Field(
        default_factory=lambda: {"CNY": 0.13, "USD": 0.92, "GBP": 1.17},
        description="Units of the reporting currency per unit of another currency (JSON object); "
        "purchases in a currency not listed count 0 towards value.",
    )
    loyalty_rules: dict[str, float] = Field(
        default_factory=dict,
        description="Overrides of the loyalty ladder thresholds (projections/loyalty_rules.py "
        "LoyaltyRules field names; docs/loyalty.md), as a JSON object.",
    )
    churn_rules: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the churn warning thresholds (projections/churn_rules.py "
        "ChurnRules field names; docs/churn.md), as a JSON object.",
    )
    tier_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Overrides of the cumulative tier shares (vip_share, key_share, "
        "regular_share; docs/value.md), as a JSON object.",
    )
    api_keys: SecretStr | None = Field(
        None,
        description="Keys of the HTTP API (`touchpoint serve`), comma-separated; none set: "
        "serve makes one for its run and prints it.",
    )
    # Security, passed through to the Kafka clients unchanged.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.")
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file_from(init_settings)
        if config_file is not None:
            if not config_file.is_file():
                raise FileNotFoundError(f"config file {config_file} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("loyalty_rules")
    @classmethod
    def _known_loyalty_rules(cls, value: dict[str, float]) -> dict[str, float]:
        from projections.loyalty_rules import LoyaltyRules

        try:
            LoyaltyRules(**value)  # type: ignore[arg-type]
        except TypeError as exc:  # an unknown name
            raise ValueError(str(exc).replace("__init__()", "")) from None
        return value

    @field_validator("churn_rules")
    @classmethod
    def _known_churn_rules(cls, value: dict[str, Any]) -> dict[str, Any]:
        churn_rules_of(value)
        return value

    @field_validator("tier_shares")
    @classmethod
    def _known_tier_shares(cls, value: dict[str, float]) -> dict[str, float]:
        from projections.value_tiers import TierRules

        try:
            TierRules(**value)
        except TypeError as exc:
            raise ValueError(str(exc).replace("__init__()", "")) from None
        return value

    @field_validator("api_keys")
    @classmethod
    def _long_api_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and any(len(key) < MIN_API_KEY for key in _split(value)):
            raise ValueError(f"every API key must have at least {MIN_API_KEY} characters")
        return value

    def api_key_list(self) -> tuple[str, ...]:
        """The HTTP API's keys (``api_keys`` split at commas, blanks dropped)."""
        return () if self.api_keys is None else _split(self.api_keys)

    def topic(self, name: str) -> str:
        """The full name of one of our topics."""
        return f"{self.topic_prefix}{name}"

    def kafka_security(self) -> dict[str, Any]:
        """Security options in kafka-python's spelling (only the protocol on PLAINTEXT)."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            if self.sasl_password is not None:
                options["sasl_plain_password"] = self.sasl_password.get_secret_value()
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                options[name] = str(value)
        return options


def _split(keys: SecretStr) -> tuple[str, ...]:
    return tuple(key.strip() for key in keys.get_secret_value().split(",") if key.strip())


def churn_rules_of(overrides: dict[str, Any]) -> ChurnRules:
    """``ChurnRules`` with ``overrides``; ValueError naming an unknown or bad field."""
    from projections.churn_rules import ChurnRules

    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    try:
        return ChurnRules(**fixed)  # type: ignore[arg-type]
    except TypeError as exc:  # an unknown name
        raise ValueError(str(exc).replace("__init__()", "")) from None


_CONFIG_ENV = "TOUCHPOINT_CONFIG"


def _config_file_from(init_settings: PydanticBaseSettingsSource) -> Path | None:
    """The config file named by the caller (``config=``) or by TOUCHPOINT_CONFIG."""
    named = init_settings().get("config") or os.environ.get(_CONFIG_ENV)
    return Path(named) if named else None


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment and file, with explicit overrides (CLI options) on top."""
    given = {key: value for key, value in overrides.items() if value is not None}
    if config is not None:
        given["config"] = str(config)
    return Settings(**given)
