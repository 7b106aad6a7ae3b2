"""``create_app``: the HTTP API and the dashboard over the read-model snapshot.

The app only reads: every request gets a read-only connection to the latest
published snapshot (api/snapshot.py), so it runs beside the materializer, in any
number of processes. API routes need a key (api/auth.py); ``/health``,
``/openapi.json`` and the dashboard's files do not. Errors are JSON ``{"detail": ...}``:
401 without a valid key, 404 for an unknown customer, 422 for a bad parameter,
503 while no read model is published (or one this version cannot read).

May import: fastapi, starlette, pydantic, projections, api, stdlib.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from api import routes_customers, routes_reports, routes_warnings
from api.auth import KeyCheck
from api.freshness import Freshness, freshness_of
from api.models import Problem
from api.routes_customers import Fingerprint
from api.snapshot import ReadModelUnreadable, SnapshotReader
from projections.queries import ReadModelMissing, ReadModelOutdated

API_VERSION = "1.0.0"
DASHBOARD = Path(__file__).parent / "dashboard"
DESCRIPTION = """Read-only access to the touchpoint read model: customers (360° by id or
alias, lists with filters, search by e-mail or phone), open churn warnings by priority,
the loyalty funnel, the value pyramid and complaint timeliness.

Send an API key in `X-API-Key` (or `Authorization: Bearer KEY`). Every answer carries
`freshness` (event-time watermark, when the snapshot was published, lag in seconds)
and the same facts in `X-Read-Model-*` headers. See docs/api.md."""

# The dashboard uses only its own files and this API: nothing inline, nothing from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
UNAVAILABLE = {"model": Problem, "description": "No read model published yet, or unreadable."}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or not a valid one."},
    503: UNAVAILABLE,
}


class Health(BaseModel):
    status: Literal["ok"]
    read_model: Literal["ready", "missing", "unreadable"]
    detail: str | None = None
    freshness: Freshness | None = None


def create_app(db: Path, api_keys: Sequence[str], fingerprint: Fingerprint) -> FastAPI:
    """The API and dashboard over the snapshot published at ``db``.

    ``api_keys``: the keys requests may carry (at least one). ``fingerprint(kind, value)``:
    the deployment's identifier fingerprint (schemas.pii.PiiSealer.fingerprint with its
    pepper), used to find customers by e-mail or phone.
    """
    reader = SnapshotReader(db)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        reader.close()

    app = FastAPI(
        title="touchpoint read API",
        version=API_VERSION,
        description=DESCRIPTION,
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: not on a closed network
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.reader = reader
    app.state.fingerprint = fingerprint
    secured = [Depends(KeyCheck(api_keys))]
    for router in (routes_customers.router, routes_warnings.router, routes_reports.router):
        app.include_router(router, dependencies=secured, responses=ERRORS)
    for error in (ReadModelMissing, ReadModelOutdated, ReadModelUnreadable):
        app.add_exception_handler(error, _unavailable)
    app.add_api_route("/health", _health, methods=["GET"], tags=["health"], summary="Liveness")
    _add_dashboard(app)
    app.middleware("http")(_security_headers)
    return app


def _health(request: Request) -> Health:
    """Answers without a key. ``read_model`` says whether a snapshot can be read yet."""
    reader: SnapshotReader = request.app.state.reader
    try:
        with reader.reading() as (_, snapshot):
            return Health(status="ok", read_model="ready", freshness=freshness_of(snapshot))
    except ReadModelMissing as exc:
        return Health(status="ok", read_model="missing", detail=str(exc))
    except ReadModelUnreadable as exc:
        return Health(status="ok", read_model="unreadable", detail=str(exc))


async def _unavailable(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})


def _add_dashboard(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(DASHBOARD / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/dashboard", StaticFiles(directory=DASHBOARD), name="dashboard")


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    if not request.url.path.startswith("/dashboard"):
        response.headers.setdefault("Cache-Control", "no-store")  # answers change with the data
    return response
