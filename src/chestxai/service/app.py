"""The FastAPI application: the page, the REST API, errors as JSON, one log line per request, and ``serve``.

``create_app(model, catalogue)`` loads nothing twice: the model and the catalogue live in one :class:`Analyzer`
owned by an :class:`Engine`, a single worker thread that runs every model and catalogue call (saliency hooks,
pyplot and SQLite connections must not be shared across threads; torch still uses every core inside a call).

Every user error (a :class:`~chestxai.errors.ChestXAIError`, a bad query parameter, an unknown route) becomes a
4xx with ``{"error": "<plain words>"}``; each request writes one JSON log line (method, path, status, time, the
upload's size and kind, the analysis stage timings) and never the file name or any DICOM header field.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from chestxai._version import __version__
from chestxai.errors import ChestXAIError
from chestxai.models.classifier import Classifier
from chestxai.service.analysis import Analyzer, ServiceConfig
from chestxai.service.api import router, token_ok
from chestxai.service.errors import ForbiddenError, status_of

STATIC = Path(__file__).resolve().parent / "static"
logger = logging.getLogger("chestxai.service")
T = TypeVar("T")


class Engine:
    """One worker thread that builds the :class:`Analyzer` and runs every call that touches it."""

    def __init__(self, factory: Callable[[], Analyzer]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chestxai-engine")
        try:
            self.analyzer = self._pool.submit(factory).result()
        except BaseException:
            self._pool.shutdown(wait=False)
            raise

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the engine thread without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))

    def close(self) -> None:
        self._pool.submit(self.analyzer.close).result()
        self._pool.shutdown()


def create_app(
    model: Classifier | str | Path | None,
    catalogue: str | Path | None = None,
    *,
    model_name: str | None = None,
    config: ServiceConfig | None = None,
) -> FastAPI:
    """The app over ``model`` (a classifier, a checkpoint path, a shipped name or None = the default) and an
    optional catalogue folder (None: no similar cases)."""
    config = config or ServiceConfig()
    quiet_dicom()
    if not isinstance(model, Classifier):
        from chestxai.models.zoo import load_model

        model_name = model_name or (str(model) if model is not None else None)
        model = load_model(model)
    classifier = model
    engine = Engine(lambda: Analyzer(classifier, catalogue, config, model_name))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        engine.close()

    app = FastAPI(title="chestxai", version=__version__, lifespan=lifespan,
                  description="Upload a chest X-ray: findings, saliency heatmaps with boxes, similar cases.")
    app.state.engine = engine
    _add_error_handlers(app)
    _add_middleware(app, config)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/", _index, include_in_schema=False)
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    return app


async def _index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


async def _favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def quiet_dicom() -> None:
    """Keep pydicom's own warnings and log records out of the server's output: they quote header values, and a
    malformed header value may be the patient's name (the service promises no DICOM PHI in its logs)."""
    import pydicom  # noqa: F401  (importing it sets its logger's level: set ours after)

    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="pydicom")


# --- errors ------------------------------------------------------------------------------------------------------


def error_response(request: Request, status: int, message: str, kind: str,
                   extra: dict[str, Any] | None = None) -> JSONResponse:
    """``{"error": message, **extra}``; the log line gets the error's kind only (messages may name the user's file)."""
    log = getattr(request.state, "log", None)
    if isinstance(log, dict):
        log["error"] = kind
    return JSONResponse({"error": message, **(extra or {})}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("path", "query", "body"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "invalid request (" + "; ".join(parts) + ")"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ChestXAIError)
    async def user_error(request: Request, exc: ChestXAIError) -> JSONResponse:
        judged = getattr(exc, "result", None)  # a refused image: the scope check's judgement goes with the 422
        extra = {"scope": judged.to_json()} if hasattr(judged, "to_json") else None
        return error_response(request, status_of(exc), str(exc), type(exc).__name__, extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, _validation_message(exc), "RequestValidationError")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = f"no such page or API route: {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        return error_response(request, exc.status_code, message, f"HTTP{exc.status_code}")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal error of the server (see its log)", type(exc).__name__)


# --- middleware --------------------------------------------------------------------------------------------------


def is_local(host: str | None) -> bool:
    """Whether a client address is this machine (loopback)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _add_middleware(app: FastAPI, config: ServiceConfig) -> None:
    @app.middleware("http")
    async def local_only(request: Request, call_next):
        """Reading is open to this machine only, unless started with allow_remote or the client has the token."""
        client = request.client.host if request.client else None
        if config.allow_remote or is_local(client) or token_ok(request, config):
            return await call_next(request)
        return error_response(request, 403, str(ForbiddenError(
            "this server answers only on its own machine (start it with --allow-remote to share it)")), "Remote")

    @app.middleware("http")
    async def log_request(request: Request, call_next):
        start = time.perf_counter()
        request.state.log = {}
        response = await call_next(request)
        fields = {"event": "request", "method": request.method, "path": request.url.path,
                  "status": response.status_code, "ms": round((time.perf_counter() - start) * 1000.0, 1),
                  **request.state.log}
        logger.info(json.dumps(fields, default=str))
        return response


# --- serving -----------------------------------------------------------------------------------------------------


def sample_catalogue(model: str | None, log: Callable[[str], None]) -> Path | None:
    """The shipped sample catalogue of ``model`` when the installation has one; else None (and why, via ``log``)."""
    try:
        from chestxai.retrieval.sample import default_catalogue
    except ImportError:
        log("no sample catalogue in this installation; serving without similar cases (pass --catalogue CAT)")
        return None
    try:
        return Path(default_catalogue(model, log=log))
    except Exception as exc:  # noqa: BLE001 -- a missing sample must not keep the page from starting
        log(f"no sample catalogue ({exc}); serving without similar cases (pass --catalogue CAT)")
        return None


def load_app(model: str | None, catalogue: str | None, allow_remote: bool = False,
             log: Callable[[str], None] = lambda m: print(f"chestxai: {m}", file=sys.stderr)) -> FastAPI:
    """What ``chestxai serve`` runs: the model (None = the shipped default) and the catalogue (None = the sample)."""
    from chestxai.models.zoo import load_model

    classifier = load_model(model)
    folder = Path(catalogue) if catalogue else sample_catalogue(model, log)
    return create_app(classifier, folder, model_name=model, config=ServiceConfig(allow_remote=allow_remote))


def address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def configure_logging() -> None:
    """The request log lines on stderr, one JSON object per line."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run_server(app: FastAPI, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted (uvicorn's access log is off: the request log line replaces it)."""
    import uvicorn

    configure_logging()
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
