"""The scope check behind the REST API: refused images are a 422 with the judgement, answers carry a ``scope``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from service_helpers import grey_png, make_client, png, upload

import chestxai
from chestxai.models.zoo import SAMPLES

CHILD_IMAGE = SAMPLES / "kermany" / "images" / "k_IM-0117-0001.png"
RED_SQUARE = png(np.dstack([np.full((300, 300), 255, np.uint8), np.zeros((300, 300, 2), np.uint8)]), fmt="JPEG")


def test_a_red_square_is_a_422_with_the_scope_object(client: TestClient) -> None:
    response = upload(client, RED_SQUARE, "red.jpg")
    assert response.status_code == 422
    body = response.json()
    assert body["error"].startswith("red.jpg: not a chest radiograph (")
    assert body["scope"]["scope"] == "not_a_chest_radiograph" and body["scope"]["reason"]


def test_an_answer_carries_its_scope(client: TestClient) -> None:
    body = upload(client, grey_png(120, 100)).json()
    assert body["scope"]["scope"] == "in_scope" and isinstance(body["scope"]["score"], float)
    assert list(body).index("scope") < list(body).index("probabilities")


def test_a_childs_film_is_answered_with_a_warning_and_the_model_that_fits() -> None:
    with make_client(chestxai.load_model("nih-adult"), None) as adult:
        response = upload(adult, CHILD_IMAGE.read_bytes(), "child.png", k=0)
    assert response.status_code == 200
    scope = response.json()["scope"]
    assert scope["scope"] == "outside_population" and scope["suggested_model"] == "kermany-paediatric"


def test_the_page_has_a_favicon_and_a_place_for_the_scope(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/")
    page = client.get("/").text
    assert page.index('id="scope"') < page.index('id="probs"')
    css = client.get("/static/style.css").text
    assert "[hidden] { display: none !important; }" in css


def test_health_and_page_state_the_models_scope_and_link_its_card() -> None:
    with make_client(chestxai.load_model("nih-adult"), None) as adult:
        card = adult.get("/api/v1/health").json()["card"]
        assert card["name"] == "nih-adult" and "adult" in card["title"]
        assert card["test_auc"]["pneumonia"] > card["test_auc"]["effusion"] - 0.1 and "pneumonia" in card["qualifiers"]
        text = adult.get(card["url"])
        assert text.status_code == 200 and text.text.startswith("# Model card: `nih-adult`")
        page = adult.get("/").text
        assert page.index('id="model-scope"') < page.index('id="probs"')


def test_a_checkpoint_without_a_card_says_so(client: TestClient) -> None:
    assert client.get("/api/v1/health").json()["card"] is None
    assert client.get("/api/v1/model-card").status_code == 404


def test_the_case_view_is_drawn_in_the_pages_dark_colours(client: TestClient) -> None:
    from io import BytesIO

    from PIL import Image

    case = upload(client, grey_png(120, 100)).json()["similar"][0]
    figure = np.asarray(Image.open(BytesIO(client.get(case["overlay_url"]).content)).convert("RGB"))
    assert figure[:3, :3].mean() < 60  # the figure's margin is the page's dark panel, not matplotlib's white
