"""Settings: where values come from, what is refused, and the CLI that carries them.

``env_names_by_field`` derives the environment variables Settings reads from the model
itself (fields, env prefix, validation aliases); test_compose.py and
test_docs_configuration.py use it too, so nothing lists the variables by hand.
"""

from __future__ import annotations

import socket
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from pydantic import AliasChoices, AliasPath, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from streams.cli import main
from streams.settings import DEV_PEPPER, EMBEDDED_PORT, Settings, load_settings

CONFIG_ENV = "TOUCHPOINT_CONFIG"


# -- helpers shared with the other unit tests ------------------------------------------------


def _alias_names(alias: str | AliasChoices | AliasPath) -> list[str]:
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasPath):
        return [str(alias.path[0])]
    names: list[str] = []
    for choice in alias.choices:
        names.extend(_alias_names(choice))
    return names


def env_names_by_field() -> dict[str, list[str]]:
    """Field name -> the environment variables that set it, the documented one first.

    pydantic-settings reads ``env_prefix + field name`` for a field without a validation
    alias, and each alias (unprefixed) for a field with one, plus the prefixed field name
    when the model also validates by name. Names are upper-cased: the settings are not
    case sensitive.
    """
    config = Settings.model_config
    assert not config.get("case_sensitive"), "names below are upper-cased"
    prefix = config.get("env_prefix", "")
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    names: dict[str, list[str]] = {}
    for field_name, field in Settings.model_fields.items():
        prefixed = f"{prefix}{field_name}".upper()
        if field.validation_alias is None:
            names[field_name] = [prefixed]
        else:
            names[field_name] = [alias.upper() for alias in _alias_names(field.validation_alias)]
            if by_name:
                names[field_name].append(prefixed)
    return names


def accepted_env_names() -> set[str]:
    """Every environment variable Settings reads, plus the config-file pointer."""
    return {name for names in env_names_by_field().values() for name in names} | {CONFIG_ENV}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No setting leaks in from the developer's shell or CI; relative paths land in tmp."""
    for name in accepted_env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield


# -- defaults and precedence -------------------------------------------------------------------


def write_toml(path: Path, **values: Any) -> Path:
    lines = []
    for key, value in values.items():
        rendered = str(value) if isinstance(value, int) else f'"{value}"'
        lines.append(f"{key} = {rendered}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_defaults_work_without_any_configuration() -> None:
    settings = load_settings()
    assert settings.bootstrap_servers == f"127.0.0.1:{EMBEDDED_PORT}"
    assert settings.broker_profile == "auto"
    assert settings.db == Path("touchpoint.duckdb")
    assert settings.topic_prefix == ""
    assert settings.partitions == 6
    assert settings.security_protocol == "PLAINTEXT"
    assert settings.pii_pepper.get_secret_value() == DEV_PEPPER


# (field, environment variable, value in the file, in the environment, as an override)
LAYERS = [
    ("topic_prefix", "TOUCHPOINT_TOPIC_PREFIX", "file.", "env.", "cli."),
    ("bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS", "file:1", "env:2", "cli:3"),
    ("partitions", "TOUCHPOINT_PARTITIONS", 2, 3, 4),
    ("db", "TOUCHPOINT_DB", "file.duckdb", "env.duckdb", "cli.duckdb"),
    ("broker_profile", "TOUCHPOINT_BROKER_PROFILE", "tansu", "kafka", "auto"),
]


@pytest.mark.parametrize(("field", "env", "in_file", "in_env", "override"), LAYERS)
def test_precedence_override_then_env_then_file_then_default(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    field: str,
    env: str,
    in_file: Any,
    in_env: Any,
    override: Any,
) -> None:
    def value(settings: Settings) -> Any:
        got = getattr(settings, field)
        return str(got) if isinstance(got, Path) else got

    default = value(load_settings())
    config = write_toml(tmp_path / "touchpoint.toml", **{field: in_file})

    assert value(load_settings(config)) == in_file != default
    monkeypatch.setenv(env, str(in_env))
    assert value(load_settings(config)) == in_env
    assert value(load_settings(config, **{field: override})) == override
    # An option that was not given (None) overrides nothing.
    assert value(load_settings(config, **{field: None})) == in_env
    monkeypatch.delenv(env)
    assert value(load_settings(config, **{field: override})) == override


def test_config_file_from_environment_and_argument(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_env = write_toml(tmp_path / "env.toml", topic_prefix="from-env.")
    from_arg = write_toml(tmp_path / "arg.toml", topic_prefix="from-arg.")
    monkeypatch.setenv(CONFIG_ENV, str(from_env))
    assert load_settings().topic_prefix == "from-env."
    assert load_settings(from_arg).topic_prefix == "from-arg."


def test_kafka_bootstrap_servers_is_read_unprefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-a:9092,broker-b:9092")
    assert load_settings().bootstrap_servers == "broker-a:9092,broker-b:9092"


def _sample(field: FieldInfo, annotation: Any) -> tuple[str, Any]:
    """A valid value unlike the default: (text for the env var, expected parsed value)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _sample(field, inner[0])
    if typing.get_origin(annotation) is typing.Literal:
        choice = next(c for c in typing.get_args(annotation) if c != field.default)
        return str(choice), choice
    if annotation is int:
        return "7" if field.default != 7 else "8", 7 if field.default != 7 else 8
    if annotation is Path:
        return "/tmp/sample/file", Path("/tmp/sample/file")
    if annotation is SecretStr:
        return "s3cret-sample", "s3cret-sample"
    if annotation is str:
        if any(getattr(rule, "pattern", None) for rule in field.metadata):
            return "GBP", "GBP"  # the only patterned string setting is a currency code
        return "sample-value", "sample-value"
    if annotation == dict[str, float]:
        return '{"JPY": 0.0061}', {"JPY": 0.0061}
    raise AssertionError(f"no sample for {annotation!r}: extend _sample")


SAMPLES = {  # settings whose valid values depend on their meaning, not just their type
    "loyalty_rules": ('{"at_risk_multiplier": 2.5}', {"at_risk_multiplier": 2.5}),
    "tier_shares": ('{"vip_share": 0.02}', {"vip_share": 0.02}),
    "churn_rules": ('{"overdue_multiplier": 2.5}', {"overdue_multiplier": 2.5}),
}


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@pytest.mark.parametrize(
    ("field", "env"),
    [(field, env) for field, names in env_names_by_field().items() for env in names],
)
def test_every_derived_env_name_sets_its_field(
    monkeypatch: pytest.MonkeyPatch, field: str, env: str
) -> None:
    info = Settings.model_fields[field]
    text, expected = SAMPLES.get(field) or _sample(info, info.annotation)
    monkeypatch.setenv(env, text)
    assert _plain(getattr(load_settings(), field)) == expected


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("named_by", ["argument", "environment"])
def test_missing_config_file_names_the_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, named_by: str
) -> None:
    missing = tmp_path / "nowhere" / "touchpoint.toml"
    if named_by == "environment":
        monkeypatch.setenv(CONFIG_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_settings(missing if named_by == "argument" else None)


BAD_VALUES = [
    ("partitions", "TOUCHPOINT_PARTITIONS", 0),
    ("replication_factor", "TOUCHPOINT_REPLICATION_FACTOR", 0),
    ("security_protocol", "TOUCHPOINT_SECURITY_PROTOCOL", "FOO"),
    ("broker_profile", "TOUCHPOINT_BROKER_PROFILE", "confluent"),
]


@pytest.mark.parametrize(("field", "env", "bad"), BAD_VALUES)
@pytest.mark.parametrize("source", ["environment", "file", "override"])
def test_bad_value_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, field: str, env: str, bad: Any, source: str
) -> None:
    config = None
    overrides: dict[str, Any] = {}
    if source == "environment":
        monkeypatch.setenv(env, str(bad))
    elif source == "file":
        config = write_toml(tmp_path / "bad.toml", **{field: bad})
    else:
        overrides[field] = bad
    with pytest.raises(ValidationError) as caught:
        load_settings(config, **overrides)
    assert [error["loc"][0] for error in caught.value.errors()] == [field]
    assert field in str(caught.value)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.partitions = 3  # type: ignore[misc]


def test_secrets_stay_out_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_PII_PEPPER", "pepper-that-must-not-print")
    monkeypatch.setenv("TOUCHPOINT_SASL_PASSWORD", "password-that-must-not-print")
    shown = repr(load_settings()) + str(load_settings())
    assert "must-not-print" not in shown


# -- kafka_security() and topic() -----------------------------------------------------------------


def test_kafka_security_plaintext_passes_only_the_protocol() -> None:
    assert load_settings().kafka_security() == {"security_protocol": "PLAINTEXT"}


def test_kafka_security_maps_sasl_ssl_to_kafka_python_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "TOUCHPOINT_SECURITY_PROTOCOL": "SASL_SSL",
        "TOUCHPOINT_SASL_MECHANISM": "SCRAM-SHA-512",
        "TOUCHPOINT_SASL_USERNAME": "touchpoint",
        "TOUCHPOINT_SASL_PASSWORD": "hunter2",
        "TOUCHPOINT_SSL_CAFILE": "/etc/kafka/ca.pem",
        "TOUCHPOINT_SSL_CERTFILE": "/etc/kafka/client.pem",
        "TOUCHPOINT_SSL_KEYFILE": "/etc/kafka/client.key",
    }.items():
        monkeypatch.setenv(name, value)
    assert load_settings().kafka_security() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "touchpoint",
        "sasl_plain_password": "hunter2",
        "ssl_cafile": "/etc/kafka/ca.pem",
        "ssl_certfile": "/etc/kafka/client.pem",
        "ssl_keyfile": "/etc/kafka/client.key",
    }


def test_kafka_security_without_sasl_mechanism_sends_no_credentials() -> None:
    settings = load_settings(
        security_protocol="SSL", sasl_username="nobody", ssl_cafile=Path("ca.pem")
    )
    assert settings.kafka_security() == {"security_protocol": "SSL", "ssl_cafile": "ca.pem"}


@pytest.mark.parametrize("client", [KafkaProducer, KafkaConsumer, KafkaAdminClient])
def test_kafka_security_options_are_kafka_python_options(client: type) -> None:
    settings = load_settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password="p",
        ssl_cafile=Path("ca.pem"),
        ssl_certfile=Path("c.pem"),
        ssl_keyfile=Path("k.pem"),
    )
    unknown = set(settings.kafka_security()) - set(client.DEFAULT_CONFIG)  # type: ignore[attr-defined]
    assert not unknown, f"{client.__name__} has no option {sorted(unknown)}"


def test_topic_applies_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().topic("touchpoints") == "touchpoints"
    assert load_settings(topic_prefix="staging.").topic("touchpoints") == "staging.touchpoints"
    monkeypatch.setenv("TOUCHPOINT_TOPIC_PREFIX", "prod-")
    assert load_settings().topic("customer-views") == "prod-customer-views"


# -- the CLI ---------------------------------------------------------------------------------------


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))
        else:
            yield (*path, name)


def test_root_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:", 1)[1]
    for command in ("broker", "topics", "produce", "simulate", "schemas", "demo"):
        assert f"\n  {command} " in listed, f"{command} missing from:\n{result.output}"


def test_topics_create_help_shows_the_shared_options() -> None:
    result = CliRunner().invoke(main, ["topics", "create", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--bootstrap-servers", "-b,", "--db", "--topic-prefix", "--config"):
        assert option in result.output
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.output


@pytest.mark.parametrize("path", list(_walk(main)), ids=lambda path: " ".join(path) or "(root)")
def test_every_command_answers_help(path: tuple[str, ...]) -> None:
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(main, [*path, flag])
        assert result.exit_code == 0, result.output
        assert "Usage: " in result.output


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cli_option_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on either port: the error names the address the command used."""
    from_env, from_option = f"127.0.0.1:{_closed_port()}", f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", from_env)

    result = CliRunner().invoke(main, ["topics", "create"])
    assert result.exit_code == 1
    assert from_env in result.output

    result = CliRunner().invoke(main, ["topics", "create", "-b", from_option])
    assert result.exit_code == 1
    assert from_option in result.output
    assert from_env not in result.output


def test_cli_reports_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    result = CliRunner().invoke(main, ["topics", "create", "--config", str(missing)])
    assert result.exit_code == 2
    assert str(missing) in result.output


def test_cli_reports_bad_setting_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_SECURITY_PROTOCOL", "FOO")
    result = CliRunner().invoke(main, ["topics", "create"])
    assert result.exit_code == 2
    assert "security_protocol" in result.output


@pytest.mark.parametrize(
    ("env", "text", "named"),
    [
        ("TOUCHPOINT_LOYALTY_RULES", '{"nonsense": 1}', "nonsense"),
        ("TOUCHPOINT_LOYALTY_RULES", '{"at_risk_multiplier": 4, "lapse_multiplier": 3}', "lapse"),
        ("TOUCHPOINT_CHURN_RULES", '{"nonsense": 1}', "nonsense"),
        ("TOUCHPOINT_CHURN_RULES", '{"spend_recover_ratio": 0.1}', "spend_recover_ratio"),
        ("TOUCHPOINT_TIER_SHARES", '{"vip_share": 0.5}', "share"),
    ],
)
def test_bad_rule_overrides_are_refused_naming_the_rule(
    monkeypatch: pytest.MonkeyPatch, env: str, text: str, named: str
) -> None:
    monkeypatch.setenv(env, text)
    with pytest.raises(ValueError, match=named):
        load_settings()
