"""The REST routes (``/api/v1``): thin, they read the request, call the :class:`Analyzer` and shape JSON.

Decoding and model and catalogue work go to the engine's one worker thread (``engine.run``; the decoder's warning
filters and the saliency hooks are process-wide); encoding a held heatmap or image touches neither and runs in
Starlette's shared thread pool. Either way the event loop never blocks on CPU work.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from chestxai._version import __version__
from chestxai.data.io import is_dicom
from chestxai.explain import METHODS
from chestxai.retrieval.catalogue import Case
from chestxai.service.analysis import TOKEN_ENV, Analysis, Analyzer, ServiceConfig
from chestxai.models.zoo import MODELS, headline_aucs, model_card
from chestxai.service.errors import BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError
from chestxai.service.uploads import Upload, read_upload

API = "/api/v1"
router = APIRouter(prefix=API)


def _form_schema(required: list[str], properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """OpenAPI for a multipart body the route parses itself (so /docs still documents it)."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


_FILE = {"type": "string", "format": "binary", "description": "the radiograph: PNG, JPEG or DICOM"}
ANALYZE_BODY = _form_schema(["file"], {
    "file": _FILE,
    "methods": {"type": "string", "description": "comma-separated saliency methods (default: the server's)"},
    "k": {"type": "integer", "description": "number of similar cases, 0 to 50 (default 8)"},
    "finding": {"type": "string", "description": "the finding to explain (default: the most probable)"},
})
ADD_CASE_BODY = _form_schema(["file", "labels"], {
    "file": _FILE,
    "labels": {"type": "string", "description": 'confirmed labels as JSON, e.g. {"effusion": 1, "pneumonia": 0}'},
    "box": {"type": "string", "description": 'optional JSON {"finding", "x", "y", "w", "h"} (or a list of them)'},
    "report": {"type": "string", "description": "optional report text"},
})


def _engine(request: Request):
    return request.app.state.engine


def _analyzer(request: Request) -> Analyzer:
    return request.app.state.engine.analyzer


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


def _int_field(upload: Upload, name: str) -> int | None:
    text = upload.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadRequestError(f"{name} must be a whole number, not {text[:40]!r}") from None


def _json_field(upload: Upload, name: str, required: bool = False) -> Any:
    text = upload.get(name)
    if text is None:
        if required:
            raise BadRequestError(f"the form field '{name}' is required")
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise BadRequestError(f"the form field '{name}' is not valid JSON") from None


def file_kind(data: bytes, name: str) -> str:
    """What an upload looks like, for the log line (never its name: file names often carry the patient)."""
    if is_dicom(data, name):
        return "dicom"
    if data.startswith(b"\x89PNG"):
        return "png"
    return "jpeg" if data.startswith(b"\xff\xd8\xff") else "other"


# --- JSON shapes -------------------------------------------------------------------------------------------------


def case_json(case: Case, score: float | None, method: str, finding: str) -> dict[str, Any]:
    """A case as the API shows it: no file-system path, URLs to its thumbnail, image and own overlay."""
    out: dict[str, Any] = {"id": case.id}
    if score is not None:
        out["score"] = round(float(score), 6)
    base = f"{API}/cases/{case.id}"
    out.update({
        "labels": dict(case.labels), "boxes": case.boxes, "view": case.view,
        "thumbnail_url": f"{base}/image?size=thumbnail", "image_url": f"{base}/image",
        "overlay_url": f"{base}/overlay?method={method}&finding={finding}",
    })
    return out


def analysis_json(result: Analysis) -> dict[str, Any]:
    """The ``POST /analyze`` answer: probabilities, one map + box per method, similar cases best first."""
    base = f"{API}/analyses/{result.id}"
    first = next(iter(result.explanations), "gradcam")
    explanations = {}
    for method, expl in result.explanations.items():
        box = None if expl.box is None else dict(zip(("x", "y", "w", "h"), expl.box))
        explanations[method] = {
            "finding": expl.finding, "probability": round(expl.probability, 6),
            "positive": expl.probability >= result.thresholds[expl.finding], "box": box,
            "heatmap_url": f"{base}/heatmap/{method}", "overlay_url": f"{base}/overlay/{method}",
            "note": expl.saliency_map().note,
        }
    return {
        "id": result.id,
        "image": {"width": result.width, "height": result.height, "url": f"{base}/image"},
        "finding": result.finding,
        "scope": result.scope.to_json() if result.scope is not None else None,
        "probabilities": {f: round(p, 6) for f, p in result.probabilities.items()},
        "thresholds": result.thresholds,
        "explanations": explanations,
        "similar": [case_json(case, score, first, result.finding) for case, score in result.similar],
        "timing_ms": result.timing_ms,
    }


# Answer formats of ``POST /analyze`` besides JSON, added by the layers above the service (the arrows point down, so
# the service never imports them): ``chestxai.pacs`` registers "dicom-sr" when imported, and ``chestxai serve`` imports
# it. name -> (media type, build(analyzer, data, filename, methods, k, finding) -> bytes).
ANSWER_FORMATS: dict[str, tuple[str, Callable[..., bytes]]] = {}


def register_answer_format(name: str, media_type: str, build: Callable[..., bytes]) -> None:
    ANSWER_FORMATS[name] = (media_type, build)


# --- routes ------------------------------------------------------------------------------------------------------


@router.post("/analyze", openapi_extra=ANALYZE_BODY, summary="Analyse a radiograph")
async def analyze(request: Request, format: str = Query(
        "json", description="json (default), or an answer format a layer above the service registered: dicom-sr "
                            "(chestxai.pacs, which `chestxai serve` loads) answers a DICOM upload with its DICOM "
                            "Structured Report (TID 1500, application/dicom)")) -> Any:
    """Probabilities, saliency maps with boxes and similar cases of one uploaded image (kept in memory only)."""
    analyzer = _analyzer(request)
    if format != "json" and format not in ANSWER_FORMATS:
        raise BadRequestError(f"format={format!r} is not offered here; choose one of: "
                              + ", ".join(["json", *ANSWER_FORMATS]))
    upload = await read_upload(request, analyzer.config.max_upload_bytes)
    request.state.log.update(bytes=len(upload.data), kind=file_kind(upload.data, upload.filename))
    if format != "json":
        media_type, build = ANSWER_FORMATS[format]
        answer = await _engine(request).run(build, analyzer, upload.data, upload.filename, upload.get("methods"),
                                            _int_field(upload, "k"), upload.get("finding"))
        return Response(answer, media_type=media_type)
    result = await _engine(request).run(analyzer.analyze, upload.data, upload.get("methods"),
                                        _int_field(upload, "k"), upload.get("finding"), upload.filename)
    request.state.log.update(analysis=result.id, size=f"{result.width}x{result.height}", timing_ms=result.timing_ms)
    return analysis_json(result)


@router.get("/analyses/{analysis_id}/image", response_class=Response, summary="The analysed image (PNG)")
async def analysis_image(request: Request, analysis_id: str) -> Response:
    return _png(await run_in_threadpool(_analyzer(request).image_png, analysis_id))


@router.get("/analyses/{analysis_id}/heatmap/{method}", response_class=Response,
            summary="A method's heatmap as a transparent colour layer (PNG)")
async def analysis_heatmap(request: Request, analysis_id: str, method: str) -> Response:
    return _png(await run_in_threadpool(_analyzer(request).heatmap_png, analysis_id, method))


@router.get("/analyses/{analysis_id}/overlay/{method}", response_class=Response,
            summary="Image, heatmap, box and legend in one PNG")
async def analysis_overlay(request: Request, analysis_id: str, method: str,
                           positive_only: float | None = Query(None, ge=0.0, le=1.0)) -> Response:
    analyzer = _analyzer(request)
    return _png(await _engine(request).run(analyzer.overlay_png, analysis_id, method, positive_only))


@router.get("/cases/{case_id}", summary="A catalogue case")
async def get_case(request: Request, case_id: int) -> dict[str, Any]:
    analyzer = _analyzer(request)
    case = await _engine(request).run(analyzer.case, case_id)
    return case_json(case, None, analyzer.config.methods[0], analyzer.target(None))


@router.get("/cases/{case_id}/image", response_class=Response, summary="A case's image or thumbnail (PNG)")
async def get_case_image(request: Request, case_id: int,
                         size: Literal["full", "thumbnail"] = "full") -> Response:
    analyzer = _analyzer(request)
    return _png(await _engine(request).run(analyzer.case_image_png, case_id, size == "thumbnail"))


@router.get("/cases/{case_id}/overlay", response_class=Response, summary="A case's own heatmap (PNG)")
async def get_case_overlay(request: Request, case_id: int, method: str = "gradcam", finding: str | None = None,
                           positive_only: float | None = Query(None, ge=0.0, le=1.0)) -> Response:
    analyzer = _analyzer(request)
    return _png(await _engine(request).run(analyzer.case_overlay_png, case_id, method, finding, positive_only))


@router.post("/cases", status_code=201, openapi_extra=ADD_CASE_BODY, summary="Add a confirmed case (token)")
async def add_case(request: Request) -> JSONResponse:
    """Needs ``Authorization: Bearer <token>`` matching the server's CHESTXAI_API_TOKEN; off when none is set."""
    analyzer = _analyzer(request)
    check_token(request, analyzer.config)
    upload = await read_upload(request, analyzer.config.max_upload_bytes)
    labels = _json_field(upload, "labels", required=True)
    boxes = _json_field(upload, "box") or []
    case_id, added = await _engine(request).run(analyzer.add_case, upload.data, labels, boxes,
                                                upload.get("report") or "", upload.filename)
    case = await _engine(request).run(analyzer.case, case_id)
    request.state.log.update(case=case_id, added=added)
    body = {**case_json(case, None, analyzer.config.methods[0], analyzer.target(None)), "added": added}
    return JSONResponse(body, status_code=201 if added else 200)


@router.get("/health", summary="Model, catalogue size and version")
async def health(request: Request) -> dict[str, Any]:
    analyzer = _analyzer(request)
    config = analyzer.config
    size = await _engine(request).run(analyzer.catalogue_size)
    return {
        "status": "ok", "version": __version__, "model": analyzer.model_name, "arch": analyzer.model.arch,
        "findings": list(analyzer.model.findings), "thresholds": analyzer.thresholds,
        "catalogue_size": size, "catalogue_loaded": analyzer.catalogue is not None,
        "methods": list(METHODS), "default_methods": list(config.methods), "k": config.k,
        "adding_cases": config.token is not None,
        "limits": {"upload_bytes": config.max_upload_bytes, "pixels": config.max_pixels},
        "card": card_summary(analyzer),
    }


def card_summary(analyzer: Analyzer) -> dict[str, Any] | None:
    """What the page shows beside the probabilities: the shipped model's scope, held-out AUCs and its card's URL
    (None for a checkpoint that is not a shipped model: it has no card)."""
    name = (getattr(analyzer.model, "checkpoint_meta", {}) or {}).get("shipped_name")
    card = model_card(name) if name else {}
    if not card:
        return None
    aucs, qualifiers = headline_aucs(card)
    return {"name": name, "title": card.get("title", ""), "test_auc": aucs, "qualifiers": qualifiers,
            "url": f"{API}/model-card"}


@router.get("/model-card", summary="The model card of the served shipped model (Markdown)")
async def model_card_text(request: Request) -> Response:
    summary = card_summary(_analyzer(request))
    if summary is None:
        raise NotFoundError("the served model is not a shipped model and has no model card")
    return Response((MODELS / summary["name"] / "MODEL_CARD.md").read_text(), media_type="text/markdown")


def presented_token(request: Request) -> str | None:
    """The token a client sent: ``Authorization: Bearer <token>`` or ``X-API-Token``."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-token")


def token_ok(request: Request, config: ServiceConfig) -> bool:
    sent = presented_token(request)
    return bool(config.token and sent and hmac.compare_digest(sent.encode(), config.token.encode()))


def check_token(request: Request, config: ServiceConfig) -> None:
    """Adding cases is off without a configured token, and needs the exact token when on."""
    if config.token is None:
        raise ForbiddenError(f"adding cases is disabled on this server: start it with {TOKEN_ENV} set")
    if not token_ok(request, config):
        raise UnauthorizedError("adding cases needs the server's API token (header 'Authorization: Bearer <token>')")
