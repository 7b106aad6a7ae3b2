"""The read side over HTTP: the API and the customer-service dashboard.

``create_app(db, api_keys, fingerprint)`` (api/app.py) builds a FastAPI app that
reads the published read-model snapshot; ``touchpoint serve`` (streams/cli_serve.py,
the composition root) builds it from the settings and runs it with uvicorn.

May import: projections, schemas, fastapi, starlette, pydantic, uvicorn, duckdb, stdlib;
never streams.
"""

from api.app import create_app

__all__ = ["create_app"]
