"""docs/configuration.md against the Settings model: nothing missing, nothing invented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from streams.cli_options import with_settings
from streams.kafka_clients import GROUP_TIMEOUTS
from streams.settings import Settings, load_settings
from tests.unit.test_settings import CONFIG_ENV, accepted_env_names, env_names_by_field

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def doc() -> str:
    return DOC.read_text()


def table_rows() -> dict[str, list[str]]:
    """The settings table: first column (env var, backticks stripped) -> its cells."""
    rows = {}
    for line in doc().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and re.fullmatch(r"`[A-Z0-9_]+`", cells[0]):
            rows[cells[0].strip("`")] = cells
    return rows


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented_by_its_env_name(field: str) -> None:
    env = env_names_by_field()[field][0]
    assert f"`{env}`" in doc(), f"docs/configuration.md does not mention {env} ({field})"
    row = table_rows().get(env)
    assert row is not None, f"{env} has no row in the settings table"
    assert f"`{field}`" in row, f"the row of {env} does not give its TOML key `{field}`"


def test_every_touchpoint_name_in_the_doc_is_real() -> None:
    mentioned = set(re.findall(r"\bTOUCHPOINT_[A-Z0-9_]*[A-Z0-9]\b", doc()))
    unknown = sorted(mentioned - accepted_env_names() - {CONFIG_ENV})
    assert not unknown, f"docs/configuration.md names settings that do not exist: {unknown}"


def test_the_table_lists_real_settings_only() -> None:
    unknown = sorted(set(table_rows()) - accepted_env_names())
    assert not unknown, f"table rows for unknown variables: {unknown}"


def test_shared_cli_options_are_documented() -> None:
    command = click.command()(with_settings(lambda settings: None))
    options = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
    assert options == {"--config", "--bootstrap-servers", "--db", "--topic-prefix"}
    for option in options:
        assert f"`{option}" in doc(), option
    assert "`-b`" in doc()


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", doc(), flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(toml_blocks())))
def test_toml_examples_load(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in accepted_env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    block = toml_blocks()[index]
    config = tmp_path / "touchpoint.toml"
    config.write_text(block)
    settings = load_settings(config)
    keys = set(re.findall(r"^([a-z_]+)\s*=", block, flags=re.MULTILINE))
    assert keys <= set(Settings.model_fields), f"unknown keys {keys - set(Settings.model_fields)}"
    for key in keys:
        assert settings.model_fields_set >= {key}, f"{key} was not read from the file"


def test_there_is_an_example_touchpoint_toml() -> None:
    assert "touchpoint.toml" in doc()
    assert toml_blocks(), "no ```toml example"


def test_group_timeouts_in_the_doc_match_the_code() -> None:
    text = doc()
    for profile, timeouts in GROUP_TIMEOUTS.items():
        row = f"| `{profile}` | {timeouts.session_timeout_ms} | {timeouts.heartbeat_interval_ms} |"
        assert row in text, f"timeouts of the {profile} profile: expected a row {row}"


def test_precedence_is_listed_highest_first() -> None:
    steps = re.findall(r"^(\d)\. \*\*(.+?)\*\*", doc(), flags=re.MULTILINE)
    assert [name.split()[0].lower() for _, name in steps[:4]] == [
        "command-line",
        "environment",
        "the",
        "defaults",
    ], steps
    assert "config file" in steps[2][1]


@pytest.mark.parametrize(
    "topic",
    ["SASL_SSL", "sasl_plain_username", "crc32c", "5-7x", "group.min.session.timeout.ms"],
)
def test_required_topics_are_covered(topic: str) -> None:
    assert topic in doc()


def test_pepper_must_be_set_in_production() -> None:
    section = doc().split("## The PII pepper", 1)[1].split("\n## ", 1)[0]
    assert "TOUCHPOINT_PII_PEPPER" in section
    assert "production" in section
