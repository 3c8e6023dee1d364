"""The in-process analysis (what the API and the load benchmark both call) and its small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from service_helpers import grey_png

from chestxai.models.checkpoint import load_checkpoint, save_checkpoint
from chestxai.models.classifier import Classifier
from chestxai.models.checkpoint import decision_thresholds
from chestxai.service.analysis import Analyzer, ServiceConfig, model_label


@pytest.fixture(scope="module")
def analyzer(service_model: Classifier, catalogue: Path):
    result = Analyzer(service_model, catalogue, ServiceConfig(k=3))
    yield result
    result.close()


def test_analyze_bytes_matches_the_model_and_the_catalogue(analyzer: Analyzer, service_model: Classifier) -> None:
    data = grey_png(90, 70, seed=3)
    result = analyzer.analyze(data, methods="gradcam")
    image = analyzer.decode(data)
    assert result.probabilities == pytest.approx(service_model.predict_dict([image])[0], abs=1e-6)
    assert (result.width, result.height) == (70, 90) and result.display.shape == (90, 70)
    assert list(result.explanations) == ["gradcam"] and result.explanations["gradcam"].heat.shape == (90, 70)
    direct = analyzer.catalogue.search(image, analyzer.embedder, 3)
    assert [c.id for c, _ in result.similar] == [c.id for c, _ in direct]
    assert set(result.timing_ms) == {"decode", "predict", "gradcam", "search", "total"}
    assert analyzer.analysis(result.id) is result


def test_large_images_are_explained_at_display_size_with_boxes_in_original_pixels(service_model: Classifier) -> None:
    small = Analyzer(service_model, None, ServiceConfig(display_size=64))
    result = small.analyze(grey_png(300, 200), methods="silhouette", k=0)
    expl = result.explanations["silhouette"]
    assert result.display.shape == (64, 43) and expl.heat.shape == (64, 43)
    x, y, w, h = expl.box
    assert 0 <= x and 0 <= y and x + w <= 200 and y + h <= 300 and w > 20 and h > 20


def test_default_finding_is_the_furthest_above_its_threshold_and_never_normal(service_model: Classifier) -> None:
    analyzer = Analyzer(service_model, None)
    assert analyzer.target(None, {"effusion": 0.1, "pneumonia": 0.2, "normal": 0.9}) == "pneumonia"
    assert analyzer.target("normal", {"effusion": 0.1, "pneumonia": 0.2, "normal": 0.9}) == "normal"
    analyzer.thresholds = {"effusion": 0.1, "pneumonia": 0.5, "normal": 0.5}
    assert analyzer.target(None, {"effusion": 0.3, "pneumonia": 0.6, "normal": 0.9}) == "effusion"


def test_thresholds_and_name_come_from_the_checkpoint(service_model: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_checkpoint(service_model, path, extra={"thresholds": {"effusion": 0.3}, "shipped_name": "demo"})
    model = load_checkpoint(path)
    assert decision_thresholds(model, 0.5) == {"effusion": 0.3, "pneumonia": 0.5, "normal": 0.5}
    assert model_label(model) == "demo"
