"""Saliency explanations: one interface (``Method(model).explain(images, target)``), methods by name, evidence.

``get_method("gradcam")(model).explain(images, target="effusion")`` -> one :class:`SaliencyMap` per image (float32
map at the image's own size in [0, 1], method, target, the model's probability). Registered methods: ``gradcam``,
``gradcampp``, ``gradient_x_input``, ``smoothgrad``, ``occlusion``, ``silhouette`` (a model-free baseline), ``lrp``.
"""

from chestxai.explain.base import (
    EVALUATED_METHODS,
    METHODS,
    SaliencyMap,
    SaliencyMethod,
    explain,
    get_method,
    parse_methods,
)
from chestxai.explain.evidence import mask, overlay, panel, to_box
from chestxai.explain.gradcam import GradCAM, GradCAMPlusPlus
from chestxai.explain.gradient import GradientXInput, SmoothGrad
from chestxai.explain.lrp import LRP
from chestxai.explain.occlusion import Occlusion
from chestxai.explain.silhouette import Silhouette

__all__ = [
    "EVALUATED_METHODS", "GradCAM", "GradCAMPlusPlus", "GradientXInput", "LRP", "METHODS", "Occlusion", "SaliencyMap", "SaliencyMethod",
    "Silhouette", "SmoothGrad", "explain", "get_method", "mask", "overlay", "panel", "parse_methods", "to_box",
]
