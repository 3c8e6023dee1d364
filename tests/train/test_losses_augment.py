"""Masked loss, positive weights and augmentation switches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chestxai.errors import ConfigError
from chestxai.train.augment import AUGMENTATIONS, build_augmentation, parse_augmentations
from chestxai.train.losses import MaskedBCEWithLogits, positive_weights


def test_unknown_labels_do_not_contribute_to_the_loss() -> None:
    loss = MaskedBCEWithLogits()
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    with_nan = loss(logits, torch.tensor([[1.0, float("nan")], [0.0, float("nan")]]))
    only_known = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], torch.tensor([1.0, 0.0]))
    assert with_nan.item() == pytest.approx(only_known.item())


def test_positive_weights_are_neg_over_pos_and_capped() -> None:
    labels = np.array([[1, 1], [0, 0], [0, 0], [0, np.nan]] + [[0, 0]] * 20, dtype=float)
    w = positive_weights(labels, cap=10.0)
    assert w[0].item() == pytest.approx(10.0)  # 23 / 1 capped
    assert positive_weights(labels[:4], cap=10.0)[0].item() == pytest.approx(3.0)


def test_augmentation_names() -> None:
    assert parse_augmentations("all") == AUGMENTATIONS
    assert parse_augmentations("none") == ()
    assert parse_augmentations("flip, blur") == ("flip", "blur")
    with pytest.raises(ConfigError, match="mixup"):
        parse_augmentations("flip,mixup")


def test_every_augmentation_keeps_size_and_dtype() -> None:
    aug = build_augmentation(AUGMENTATIONS, 64, seed=0)
    image = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    for _ in range(5):
        out = aug(image=image)["image"]
        assert out.shape == (64, 64) and out.dtype == np.uint8
