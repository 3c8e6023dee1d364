"""The web page and REST API: upload a chest X-ray, see findings, heatmaps, the box and similar cases.

``create_app(model, catalogue)`` builds the FastAPI app (``chestxai serve`` runs it with uvicorn);
:class:`Analyzer` is the same analysis in-process (what the load benchmark times as the bare cost).
"""

from chestxai.service.analysis import Analysis, Analyzer, ServiceConfig
from chestxai.service.app import create_app, load_app, run_server

__all__ = ["Analysis", "Analyzer", "ServiceConfig", "create_app", "load_app", "run_server"]
