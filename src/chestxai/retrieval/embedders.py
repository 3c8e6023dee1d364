"""Turn radiographs into vectors a catalogue can compare: ``cnn``, ``igcbir``, and the ``ssim`` brute-force scorer.

Every embedder has the same small interface (``name``, ``dim``, ``metric``, ``embed(images) -> float32 [n, dim]``)
so the catalogue, the search and the evaluation never care which one they hold:

- ``cnn``: the classifier's penultimate features (global-pooled last feature map), L2-normalised, so the inner
  product is the cosine similarity (FAISS ``IndexFlatIP``).
- ``igcbir`` (interpretability-guided CBIR, Silva et al. 2020): the classifier's saliency map of each image is fed
  to a second network (a copy of the classifier fine-tuned on saliency maps, see :mod:`chestxai.train.igcbir`); its
  penultimate features are compared with the L2 distance, as in the source paper.
- ``ssim``: no vectors at all: structural similarity computed between the query and every catalogue image
  (brute force, highest first), the statistical baseline of the source paper.

``images`` may be decoded radiographs (float ``H x W`` in ``[0, 1]``, any size) or uint8 arrays already resized to
the model's input size (what :func:`chestxai.data.cache.cache_images` returns): the second form is how whole
datasets are embedded without decoding a file twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import cv2
import numpy as np
import torch
from scipy.ndimage import uniform_filter

from chestxai.data.preprocess import Preprocess
from chestxai.errors import ConfigError
from chestxai.models.classifier import Classifier
from chestxai.retrieval.vectors import l2_normalise, to_model_input

METRICS = ("ip", "l2")
# A saliency function: (classifier, its preprocessed input [N, 1, S, S]) -> N maps H x W in [0, 1].
SaliencyFn = Callable[[Classifier, torch.Tensor], Sequence[np.ndarray]]


def model_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 (16 hex) of the weights: vectors from two different models must never share one index."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().to(torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@torch.inference_mode()
def penultimate_features(model: Classifier, x: torch.Tensor, batch_size: int = 32) -> np.ndarray:
    """``model.features`` over ``x`` in eval mode, batched: the raw embedding before any normalisation."""
    was_training = model.training
    model.eval()
    try:
        parts = [model.features(x[i : i + batch_size]).float().numpy() for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(parts) if parts else np.zeros((0, model.num_features), np.float32)


class Embedder:
    """Base of every vector embedder: ``embed(images) -> float32 [n, dim]`` compared with ``metric``."""

    name: str = ""
    metric: str = "ip"

    def __init__(self, model: Classifier, batch_size: int = 32) -> None:
        self.model = model.eval()
        self.batch_size = batch_size

    @property
    def dim(self) -> int:
        return self.model.num_features

    @property
    def preprocess(self) -> Preprocess:
        """The input form ``embed`` accepts without resizing (cache images at this size)."""
        return self.model.preprocess

    @cached_property
    def model_hash(self) -> str:
        """What the catalogue records next to the vectors, to refuse mixing models (computed once per embedder:
        hashing the weights costs a pass over them)."""
        return model_fingerprint(self.model)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim, "metric": self.metric, "model_hash": self.model_hash}


class CNNEmbedder(Embedder):
    """The classifier's penultimate features, L2-normalised: cosine similarity by inner product."""

    name = "cnn"
    metric = "ip"

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalise(penultimate_features(self.model, to_model_input(images, self.preprocess), self.batch_size))


class IGCBIREmbedder(Embedder):
    """Saliency maps of the classifier, embedded by a network fine-tuned on such maps; compared with L2.

    ``saliency`` is injected (default: Grad-CAM from :mod:`chestxai.explain`), so any registered method works and
    tests can pass a cheap function.
    """

    name = "igcbir"
    metric = "l2"

    def __init__(self, classifier: Classifier, embed_model: Classifier, saliency: SaliencyFn | None = None,
                 batch_size: int = 32) -> None:
        super().__init__(embed_model, batch_size)
        self.classifier = classifier.eval()
        self.saliency = saliency or explain_saliency()

    @property
    def preprocess(self) -> Preprocess:
        return self.classifier.preprocess

    @cached_property
    def model_hash(self) -> str:
        return f"{model_fingerprint(self.classifier)}+{model_fingerprint(self.model)}"

    def saliency_uint8(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Saliency maps of ``images`` as uint8 ``[n, S, S]`` at the embedding network's input size."""
        return saliency_maps_uint8(self.classifier, images, self.saliency, self.model.preprocess, self.batch_size)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        maps = self.saliency_uint8(images)
        x = self.model.preprocess.normalise(maps)
        return np.ascontiguousarray(penultimate_features(self.model, x, self.batch_size), dtype=np.float32)


def saliency_maps_uint8(
    classifier: Classifier,
    images: Sequence[np.ndarray],
    saliency: SaliencyFn,
    out_pre: Preprocess,
    batch_size: int = 32,
) -> np.ndarray:
    """Run ``saliency`` batch by batch and store each map as an ``out_pre``-sized uint8 image (the cached form)."""
    maps: list[np.ndarray] = []
    for start in range(0, len(images), batch_size):
        x = to_model_input(images[start : start + batch_size], classifier.preprocess)
        for m in saliency(classifier, x):
            maps.append(out_pre.resize_uint8(np.clip(np.nan_to_num(np.asarray(m, np.float32)), 0.0, 1.0)))
    if len(maps) != len(images):
        raise RuntimeError(f"the saliency function returned {len(maps)} maps for {len(images)} images")
    return np.stack(maps) if maps else np.zeros((0, out_pre.image_size, out_pre.image_size), np.uint8)


def explain_saliency(method: str = "gradcam", target: str | int | None = None) -> SaliencyFn:
    """A saliency function backed by :mod:`chestxai.explain` (imported when called: retrieval works without it).

    ``target`` is the finding whose evidence is embedded; None explains each image's most probable finding, so
    two images are compared on the evidence for what the classifier sees in each. "Most probable" is read from the
    network's own sigmoid, before the checkpoint's ``logit_shift``: the maps an IG-CBIR network was trained on then
    depend on the classifier's weights only.
    """

    def run(model: Classifier, x: torch.Tensor) -> list[np.ndarray]:
        try:
            from chestxai.explain import explain
        except ImportError as exc:
            raise ConfigError("IG-CBIR needs the saliency methods of chestxai.explain, not in this installation") from exc
        if target is not None:
            return [s.map for s in explain(model, x, method, target)]
        top = model.predict_tensor(x, shifted=False).argmax(axis=1)  # the network's own strongest output
        maps: list[np.ndarray] = [np.zeros(0)] * len(x)
        for finding in np.unique(top):
            rows = np.flatnonzero(top == finding)
            for i, smap in zip(rows, explain(model, x[torch.as_tensor(rows)], method, int(finding))):
                maps[i] = smap.map
        return maps

    run.method = method  # type: ignore[attr-defined]
    return run


# --- SSIM: the statistical baseline (no index) ------------------------------------------------------------------

SSIM_SIZE = 64


def ssim_pixels(images: Sequence[np.ndarray], size: int = SSIM_SIZE) -> np.ndarray:
    """Images as float64 ``[n, size, size]`` in [0, 1]: SSIM is computed on this common grid."""
    out = np.empty((len(images), size, size), np.float64)
    for i, im in enumerate(images):
        im = np.asarray(im)
        scaled = im.astype(np.float32) / 255.0 if im.dtype == np.uint8 else im.astype(np.float32)
        interp = cv2.INTER_AREA if min(scaled.shape) >= size else cv2.INTER_LINEAR
        out[i] = cv2.resize(scaled, (size, size), interpolation=interp)
    return out


def ssim_scores(query: np.ndarray, candidates: np.ndarray, win_size: int = 7, data_range: float = 1.0) -> np.ndarray:
    """SSIM of ``query`` (H x W) against each of ``candidates`` ([n, H, W]), vectorised over the candidates.

    Same definition as ``skimage.metrics.structural_similarity(a, b, data_range=1.0)`` (uniform 7 x 7 window,
    sample covariance, K1 = 0.01, K2 = 0.03, border of half a window cropped before the mean); a loop over
    skimage is 30x slower on a catalogue. Higher is more similar, 1.0 for identical images.
    """
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    y = np.asarray(candidates, np.float64)
    x = np.broadcast_to(np.asarray(query, np.float64), y.shape)
    size = (1, win_size, win_size)
    cov_norm = win_size**2 / (win_size**2 - 1.0)
    ux, uy = uniform_filter(x, size), uniform_filter(y, size)
    vx = cov_norm * (uniform_filter(x * x, size) - ux * ux)
    vy = cov_norm * (uniform_filter(y * y, size) - uy * uy)
    vxy = cov_norm * (uniform_filter(x * y, size) - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    return s[:, pad:-pad, pad:-pad].mean(axis=(1, 2))


class SSIMScorer:
    """The ``ssim`` method: brute-force structural similarity, scored highest first; it has no vectors."""

    name = "ssim"

    def __init__(self, size: int = SSIM_SIZE) -> None:
        self.size = size

    def pixels(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return ssim_pixels(images, self.size)

    def score(self, query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """SSIM of one query image against candidate pixels prepared by :meth:`pixels`."""
        return ssim_scores(self.pixels([query])[0], candidates)


EMBEDDER_NAMES = ("cnn", "igcbir", "ssim")


def build_embedder(
    name: str,
    model: Classifier,
    igcbir_model: Classifier | None = None,
    saliency: SaliencyFn | None = None,
) -> Embedder:
    """The vector embedder called ``name`` over ``model`` (``igcbir`` also needs its fine-tuned network)."""
    if name == "cnn":
        return CNNEmbedder(model)
    if name == "igcbir":
        if igcbir_model is None:
            raise ConfigError("--embedder igcbir needs --igcbir-model (a checkpoint from `chestxai train-igcbir`)")
        info = getattr(igcbir_model, "checkpoint_meta", {}).get("igcbir", {})
        if info.get("classifier_hash") not in (None, model_fingerprint(model)):
            raise ConfigError("the IG-CBIR network was fine-tuned on another classifier's saliency maps; "
                              "pass the --model it was trained from")
        fn = saliency or explain_saliency(info.get("saliency", "gradcam"), info.get("target"))
        return IGCBIREmbedder(model, igcbir_model, fn)
    raise ConfigError(f"unknown embedder {name!r}; use one of {', '.join(EMBEDDER_NAMES)}")
