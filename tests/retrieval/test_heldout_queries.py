"""Held-out queries in the retrieval evaluation: only the given patients query, everyone else is the pool."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from chestxai.data.datasets import load_dataset
from chestxai.data.preprocess import Preprocess
from chestxai.evaluate.retrieval import SEEDS, evaluate_retrieval, prepare, split_queries
from chestxai.retrieval.embedders import SSIMScorer


def test_query_patients_fix_the_queries_and_keep_them_out_of_the_pool(synthetic_dir: Path) -> None:
    data = prepare(load_dataset(synthetic_dir, findings=["effusion", "pneumonia"]), "effusion", Preprocess(32))
    patients = data.meta["patient_id"].astype(str)
    held_out = set(patients.unique()[::4])
    for seed in SEEDS[:2]:
        pool, queries = split_queries(data, seed, 0.2, held_out)
        assert set(patients.iloc[queries]) == held_out
        assert not set(patients.iloc[pool]) & held_out
        assert len(pool) + len(queries) == len(patients)


def test_evaluation_with_held_out_queries_reports_them_and_positive_query_precision(
    synthetic_dir: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(synthetic_dir, findings=["effusion", "pneumonia"])
    patients = dataset.meta["patient_id"].astype(str)
    held_out = set(patients.unique()[::3])
    summary = evaluate_retrieval(dataset, "effusion", {"ssim": SSIMScorer(32)}, tmp_path, Preprocess(32),
                                 seeds=(42, 1), log=lambda m: None, query_patients=held_out)
    positive = summary[summary.metric == "precision_pos"]
    assert set(positive.setting) == {"top4_cat10", "top7_cat20", "top11_cat30"}
    assert positive["mean"].between(0, 1).all()
    info = json.loads((tmp_path / "summary.json").read_text())
    assert info["fixed_queries"]["patients"] == len(held_out)
    n_queries = int(patients.isin(held_out).sum())
    assert info["fixed_queries"]["images"] == n_queries
    md = (tmp_path / "summary.md").read_text()
    assert f"the {n_queries} images" in md and "precision (positive queries)" in md
    written = pd.read_csv(tmp_path / "summary.csv")
    per_query = written[(written.metric == "precision") & (written.setting == "top4_cat10")]
    assert int(per_query["n"].iloc[0]) == 2 * n_queries  # every held-out image queried once per seed
    assert np.isfinite(written["mean"]).all()
