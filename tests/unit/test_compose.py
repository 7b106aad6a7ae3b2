"""docker-compose.yml and the Dockerfile, checked against the code without a Docker engine.

The compose file is parsed with PyYAML (anchors and ``<<`` merges resolved); settings,
CLI commands and the console script come from the project itself, so a renamed
setting or command fails here instead of in a container.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from streams.cli import main
from streams.kafka_clients import GROUP_TIMEOUTS
from streams.settings import load_settings
from tests.unit.test_settings import accepted_env_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

# Commands that services run before the CLI has them: command -> the issue that adds it.
# test_pending_commands_are_still_pending fails once one exists: then delete its entry.
PENDING_COMMANDS: dict[str, str] = {}

# Apache Kafka's default group.min.session.timeout.ms.
KAFKA_MIN_SESSION_TIMEOUT_MS = 6000

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def touchpoint_services() -> dict[str, dict[str, Any]]:
    """Services that run our image (built from the Dockerfile)."""
    ours = {name: spec for name, spec in services().items() if "build" in spec}
    assert ours, "no service builds the touchpoint image"
    return ours


def environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def command(spec: dict[str, Any]) -> list[str]:
    given = spec.get("command") or []
    return shlex.split(given) if isinstance(given, str) else [str(word) for word in given]


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """'NAME://host:port,...' -> {NAME: (host, port)}."""
    found = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        found[name] = host_port(address)
    return found


def kafka_env() -> dict[str, str]:
    return environment(services()["kafka"])


def published_ports(spec: dict[str, Any]) -> list[tuple[str, int]]:
    """(host ip, host port) of each published port; short and long syntax."""
    published = []
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") is not None:
                published.append((str(port.get("host_ip", "")), int(port["published"])))
            continue
        text = str(port).split("/", 1)[0]
        parts = text.rsplit(":", 2)
        if len(parts) == 1:
            continue  # container port only: Docker picks a random host port
        ip = parts[0] if len(parts) == 3 else ""
        published.append((ip, int(parts[-2])))
    return published


def volume_mounts(spec: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Container path -> (source, read only)."""
    mounts = {}
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            mounts[volume["target"]] = (volume.get("source", ""), bool(volume.get("read_only")))
            continue
        source, target, *mode = str(volume).split(":")
        mounts[target] = (source, bool(mode) and "ro" in mode[0].split(","))
    return mounts


def one_shot_services() -> set[str]:
    """Services that others wait for to finish (service_completed_successfully)."""
    finished = set()
    for spec in services().values():
        depends = spec.get("depends_on") or {}
        if isinstance(depends, dict):
            for name, condition in depends.items():
                if (condition or {}).get("condition") == "service_completed_successfully":
                    finished.add(name)
    return finished


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


# -- services --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(services()))
def test_every_service_has_a_healthcheck_or_is_one_shot(name: str) -> None:
    spec = services()[name]
    if name in one_shot_services():
        assert str(spec.get("restart", "no")) in ("no", "on-failure"), (
            f"{name} is one-shot: it must not be restarted after it exits"
        )
        return
    check = spec.get("healthcheck") or {}
    assert not check.get("disable"), f"{name}: healthcheck disabled"
    test = check.get("test")
    assert test and test != ["NONE"], (
        f"{name} has no healthcheck and nothing waits for it to finish"
    )


@pytest.mark.parametrize("name", sorted(touchpoint_services()))
def test_service_env_names_are_real_settings(name: str) -> None:
    accepted = accepted_env_names()
    ours = [
        key
        for key in environment(touchpoint_services()[name])
        if key.upper().startswith("TOUCHPOINT_") or key.upper() == "KAFKA_BOOTSTRAP_SERVERS"
    ]
    assert ours, f"{name} gets no settings at all"
    unknown = sorted(key for key in ours if key.upper() not in accepted)
    assert not unknown, f"{name}: Settings reads no {unknown} (it reads {sorted(accepted)})"


@pytest.mark.parametrize("name", sorted(touchpoint_services()))
def test_service_env_values_validate(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The values themselves load into Settings (interpolations replaced by a stand-in)."""
    for variable in accepted_env_names():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    for key, value in environment(touchpoint_services()[name]).items():
        monkeypatch.setenv(key, _INTERPOLATION.sub("from-the-host", value))
    settings = load_settings()
    assert settings.broker_profile == "kafka"


def test_pepper_is_required_from_the_host() -> None:
    """No default pepper in compose: a missing TOUCHPOINT_PII_PEPPER stops `up`."""
    for name, spec in touchpoint_services().items():
        value = environment(spec).get("TOUCHPOINT_PII_PEPPER", "")
        assert re.fullmatch(r"\$\{TOUCHPOINT_PII_PEPPER:\?[^}]+\}", value), (
            f"{name}: TOUCHPOINT_PII_PEPPER must be ${{TOUCHPOINT_PII_PEPPER:?message}}"
        )


def test_touchpoint_services_share_one_environment() -> None:
    """The x-touchpoint-env anchor: every service gets the same settings."""
    shared = compose()["x-touchpoint-env"]
    for name, spec in touchpoint_services().items():
        assert environment(spec) == environment({"environment": shared}), name


def test_broker_profile_is_kafka() -> None:
    """Apache Kafka refuses the Tansu profile's 2 s session timeout; `auto` would be a probe."""
    for name, spec in touchpoint_services().items():
        assert environment(spec).get("TOUCHPOINT_BROKER_PROFILE") == "kafka", name
    assert GROUP_TIMEOUTS["tansu"].session_timeout_ms < KAFKA_MIN_SESSION_TIMEOUT_MS
    minimum = int(
        kafka_env().get("KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS", KAFKA_MIN_SESSION_TIMEOUT_MS)
    )
    assert minimum == KAFKA_MIN_SESSION_TIMEOUT_MS, "leave group.min.session.timeout.ms alone"
    assert GROUP_TIMEOUTS["kafka"].session_timeout_ms >= minimum


# -- the broker ------------------------------------------------------------------------------------


def test_bootstrap_address_is_an_advertised_listener() -> None:
    advertised = set(listeners(kafka_env()["KAFKA_ADVERTISED_LISTENERS"]).values())
    for name, spec in touchpoint_services().items():
        bootstrap = environment(spec)["KAFKA_BOOTSTRAP_SERVERS"]
        for address in bootstrap.split(","):
            assert host_port(address.strip()) in advertised, (
                f"{name} bootstraps from {address}, the broker advertises {sorted(advertised)}"
            )
            host, _ = host_port(address.strip())
            assert host in (services()["kafka"].get("hostname"), "kafka"), (
                f"{name}: {host} is not the kafka service's name on the compose network"
            )


def test_kafka_listeners_are_consistent() -> None:
    env = kafka_env()
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]

    assert set(bound) <= set(protocols), "every listener needs a security protocol"
    for name, (_, port) in advertised.items():
        assert bound[name][1] == port, f"{name} advertises port {port}, binds {bound[name][1]}"
    assert controller in bound and controller not in advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised

    node, _, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert node == str(env["KAFKA_NODE_ID"])
    assert host_port(voter)[1] == bound[controller][1]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}

    # The host-side listener is published on the port it advertises, on localhost.
    host_listeners = {name: hp for name, hp in advertised.items() if hp[0] == "localhost"}
    assert host_listeners, "no listener for clients on the host"
    published = {port for _, port in published_ports(services()["kafka"])}
    for name, (_, port) in host_listeners.items():
        assert port in published, f"{name} advertises localhost:{port} but it is not published"


def test_kafka_single_node_settings() -> None:
    spec = services()["kafka"]
    env = kafka_env()
    assert spec["image"] == "apache/kafka:3.9.1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key
    # The image formats its log dir with CLUSTER_ID: a base64url-encoded 16-byte UUID.
    cluster_id = env["CLUSTER_ID"]
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    # The data lives on a named volume, where the broker writes it.
    mounts = volume_mounts(spec)
    assert env["KAFKA_LOG_DIRS"] in mounts
    assert mounts[env["KAFKA_LOG_DIRS"]][0] in compose()["volumes"]
    assert "kafka-broker-api-versions.sh" in " ".join(spec["healthcheck"]["test"])


# -- ports, volumes, ordering ----------------------------------------------------------------------


def test_published_ports_do_not_clash() -> None:
    ports = Counter(port for spec in services().values() for _, port in published_ports(spec))
    clashes = sorted(port for port, count in ports.items() if count > 1)
    assert not clashes, f"host ports published twice: {clashes}"


def test_api_publishes_8080_and_checks_health() -> None:
    api = services()["api"]
    assert ("", 8080) in published_ports(api) or ("0.0.0.0", 8080) in published_ports(api)
    assert "http://localhost:8080/health" in " ".join(api["healthcheck"]["test"])


def test_data_volume_holds_the_files_and_only_the_worker_writes() -> None:
    env = environment(touchpoint_services()["worker"])
    worker, api = volume_mounts(services()["worker"]), volume_mounts(services()["api"])
    assert "/data" in worker and not worker["/data"][1], "worker needs /data writable"
    assert api.get("/data") == (worker["/data"][0], True), "api: the same volume, read-only"
    assert worker["/data"][0] in compose()["volumes"]
    for key in ("TOUCHPOINT_DB", "TOUCHPOINT_KEY_VAULT"):
        assert Path(env[key]).parent == Path("/data"), key


def test_worker_waits_for_the_topics() -> None:
    worker = services()["worker"]
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert worker["restart"] == "unless-stopped"
    topics = services()["topics"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert command(topics) == ["topics", "create"]


# -- commands ------------------------------------------------------------------------------------


def _parse(words: list[str]) -> None:
    """Parse a command line the way `touchpoint` would, without running anything.

    Contexts are chained from the root so the subcommands inherit its settings
    (``-h``); a command parsed without them would cache a help option lacking ``-h``.
    """
    ctx = main.make_context("touchpoint", [], resilient_parsing=True)
    current: click.Command = main
    while isinstance(current, click.Group) and words and not words[0].startswith("-"):
        name, *words = words
        assert name in current.commands, f"`{ctx.command_path} {name}` does not exist"
        current = current.commands[name]
        ctx = click.Context(current, info_name=name, parent=ctx)
    assert ctx.parent is not None
    current.make_context(ctx.info_name, words, parent=ctx.parent)


@pytest.mark.parametrize("name", sorted(touchpoint_services()))
def test_service_command_is_a_touchpoint_command(name: str) -> None:
    words = command(touchpoint_services()[name])
    assert words, f"{name} has no command (the image's default is --help)"
    if words[0] in PENDING_COMMANDS:
        pytest.skip(f"`touchpoint {words[0]}` arrives with {PENDING_COMMANDS[words[0]]}")
    assert words[0] in main.commands, (
        f"{name} runs `touchpoint {words[0]}`, not a command of {sorted(main.commands)}"
    )
    # The options parse too (nothing runs: make_context stops before the callback).
    try:
        _parse(words)
    except click.UsageError as exc:
        pytest.fail(f"{name}: `touchpoint {' '.join(words)}` does not parse: {exc}")


def test_pending_commands_are_still_pending() -> None:
    arrived = {name: issue for name, issue in PENDING_COMMANDS.items() if name in main.commands}
    assert not arrived, (
        f"{arrived} exist in the CLI now: remove them from PENDING_COMMANDS in {__file__}"
    )
    used = {command(spec)[0] for spec in touchpoint_services().values()}
    unused = set(PENDING_COMMANDS) - used
    assert not unused, f"no service runs {sorted(unused)}: drop them from PENDING_COMMANDS"


# -- the image ----------------------------------------------------------------------------------


def test_dockerfile_installs_the_project_without_extras() -> None:
    installs = [
        args
        for keyword, args in dockerfile_instructions()
        if keyword == "RUN" and re.search(r"\bpip\b.*\binstall\b", args)
    ]
    assert installs, "the Dockerfile installs nothing with pip"
    for args in installs:
        assert "[" not in args, f"extras installed: {args}"
        assert "calfkit" not in args, f"the embedded broker does not belong in the image: {args}"
        assert not re.search(r"(^|\s)(-e|--editable)\s", args), f"editable install: {args}"
    assert dockerfile_instructions()[0] == ("FROM", "python:3.11-slim AS build")
    assert final_stage()[0][1].split()[0] == "python:3.11-slim"


def test_dockerfile_entrypoint_is_the_console_script() -> None:
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    entrypoints = [args for keyword, args in final_stage() if keyword == "ENTRYPOINT"]
    assert entrypoints, "no ENTRYPOINT in the final stage"
    assert json.loads(entrypoints[-1]) in ([script] for script in scripts)


def test_image_runs_as_non_root_with_a_data_volume() -> None:
    stage = final_stage()
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    volumes = [args for keyword, args in stage if keyword == "VOLUME"]
    assert any("/data" in json.loads(args) for args in volumes)
    env_text = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "TOUCHPOINT_DB=/data/touchpoint.duckdb" in env_text
    assert "TOUCHPOINT_KEY_VAULT=/data/keys.sqlite" in env_text
    for name in re.findall(r"\b(TOUCHPOINT_[A-Z0-9_]+)=", env_text):
        assert name in accepted_env_names(), f"the image sets {name}, which Settings does not read"


def test_dockerignore_lets_every_package_through() -> None:
    include = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.rstrip("*") for pattern in include["include"]}
    allowed = {
        line[1:].strip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    }
    assert "pyproject.toml" in allowed
    missing = packages - allowed
    assert not missing, f".dockerignore keeps {sorted(missing)} out of the build context"
