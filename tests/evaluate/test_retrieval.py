"""Retrieval metrics on hand-computed examples, the paper's protocol on a tiny set, and the report files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chestxai.data.datasets import load_dataset
from chestxai.data.preprocess import Preprocess
from chestxai.errors import DataFormatError
from chestxai.evaluate.retrieval import (
    SUMMARY_COLUMNS,
    WORKED_EXAMPLE,
    average_precision,
    dcg,
    draw_catalogue,
    evaluate_retrieval,
    expert_relevance,
    ndcg_at_k,
    precision_at_k,
    read_expert_ranking,
)
from chestxai.retrieval.embedders import SSIMScorer


def test_worked_example_of_the_source_study() -> None:
    rel = expert_relevance(WORKED_EXAMPLE, 10)
    assert rel[:4].tolist() == [4.5, 5.0, 4.0, 5.5]
    assert ndcg_at_k(rel, 10) == pytest.approx(0.852, abs=5e-4)
    assert ndcg_at_k(rel, 10, exponential=False) == pytest.approx(0.963, abs=5e-4)


def test_dcg_by_hand() -> None:
    # gains 2^2-1=3, 2^0-1=0, 2^1-1=1 at ranks 1..3: 3/log2(2) + 0 + 1/log2(4) = 3.5
    assert dcg([2, 0, 1]) == pytest.approx(3.5)
    assert dcg([2, 0, 1], exponential=False) == pytest.approx(2 + 0 + 0.5)
    assert dcg([2, 0, 1], k=1) == pytest.approx(3.0)
    # ideal order [2, 1, 0]: 3 + 1/log2(3)
    assert ndcg_at_k([2, 0, 1], 3) == pytest.approx(3.5 / (3 + 1 / math.log2(3)))


def test_ndcg_ideal_uses_all_candidates() -> None:
    # a relevant case ranked below k still counts in the ideal: top-1 irrelevant -> 0
    assert ndcg_at_k([0, 1], 1, all_relevances=[0, 1]) == 0.0
    assert ndcg_at_k([1, 0], 1, all_relevances=[0, 1]) == 1.0
    assert math.isnan(ndcg_at_k([0, 0], 2))


def test_precision_and_average_precision_by_hand() -> None:
    rel = [True, False, True, False]
    assert precision_at_k(rel, 2) == 0.5
    assert precision_at_k(rel, 4) == 0.5
    assert average_precision(rel) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert math.isnan(average_precision([False, False]))


def test_expert_csv_rank_and_relevance_forms(tmp_path: Path) -> None:
    ranked = tmp_path / "ranked.csv"
    pd.DataFrame({"query": ["q"] * 10, "case": [f"c{i}" for i in range(1, 11)], "rank": range(1, 11)}).to_csv(
        ranked, index=False)
    table = read_expert_ranking(ranked)
    assert table["q"]["c1"] == 5.5 and table["q"]["c10"] == 1.0
    direct = tmp_path / "rel.csv"
    direct.write_text("query,case,relevance\nq,a,3\nq,b,0\n")
    assert read_expert_ranking(direct) == {"q": {"a": 3.0, "b": 0.0}}
    bad = tmp_path / "bad.csv"
    bad.write_text("query,score\nq,1\n")
    with pytest.raises(DataFormatError, match="query,case,rank"):
        read_expert_ranking(bad)


def test_drawn_catalogue_holds_exactly_x_of_the_class() -> None:
    classes = np.array([1] * 6 + [0] * 30)
    cand = draw_catalogue(np.random.default_rng(0), np.arange(36), classes, 1, 4, 10)
    assert len(cand) == 10 and len(set(cand)) == 10 and classes[cand].sum() == 4
    assert draw_catalogue(np.random.default_rng(0), np.arange(36), classes, 1, 11, 30) is None


def test_protocol_writes_summary_files(synthetic_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synthetic_dir, findings=["effusion", "pneumonia"])
    expert = tmp_path / "expert.csv"
    q, cases = data.paths[0], data.paths[1:11]
    pd.DataFrame({"query": [Path(q).name] * 10, "case": [Path(c).name for c in cases],
                  "rank": range(1, 11)}).to_csv(expert, index=False)
    summary = evaluate_retrieval(data, "effusion", {"ssim": SSIMScorer(32)}, tmp_path / "out", Preprocess(32),
                                 expert_csv=expert, seeds=(42, 1), log=lambda m: None)
    written = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(written.columns) == SUMMARY_COLUMNS
    settings = set(written.setting)
    assert {"top4_cat10", "top7_cat20", "top11_cat30", "whole_catalogue", "expert"} <= settings
    prec = written[(written.metric == "precision")]
    assert ((prec["min"] <= prec["mean"]) & (prec["mean"] <= prec["max"])).all()
    assert prec["mean"].between(0, 1).all()
    # the synthetic effusion blob is a strong pixel cue: SSIM beats chance (0.40) on Top-4/Cat-10
    assert float(prec[prec.setting == "top4_cat10"]["mean"].iloc[0]) > 0.5
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "0.852" in md and "0.963" in md and "| ssim | top4_cat10 |" in md and "0.55" in md
    assert (tmp_path / "out" / "examples.png").stat().st_size > 0
    assert len(summary) == len(written)


def test_expert_file_naming_no_image_of_the_data_is_a_clear_error(synthetic_dir: Path, tmp_path: Path) -> None:
    """Otherwise the expert table would silently be missing from the report."""
    data = load_dataset(synthetic_dir, findings=["effusion", "pneumonia"])
    expert = tmp_path / "expert.csv"
    expert.write_text("query,case,rank\nother_patient.png,a.png,1\nother_patient.png,b.png,2\n")
    with pytest.raises(DataFormatError, match="none of its 1 queries.*'other_patient.png'"):
        evaluate_retrieval(data, "effusion", {"ssim": SSIMScorer(32)}, tmp_path / "out", Preprocess(32),
                           expert_csv=expert, seeds=(42,), log=lambda m: None)
    assert not (tmp_path / "out").exists()  # failed before any work or output


def test_expert_file_partly_found_is_said(synthetic_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(synthetic_dir, findings=["effusion", "pneumonia"])
    names = [Path(p).name for p in data.paths[:3]]
    expert = tmp_path / "expert.csv"
    expert.write_text(f"query,case,rank\n{names[0]},{names[1]},1\n{names[0]},{names[2]},2\nmissing.png,{names[1]},1\n")
    said: list[str] = []
    summary = evaluate_retrieval(data, "effusion", {"ssim": SSIMScorer(32)}, tmp_path / "out", Preprocess(32),
                                 expert_csv=expert, seeds=(42,), log=said.append)
    assert "expert ranking: 1 of its 2 queries found in the data (matched by file name)" in said
    assert (summary.setting == "expert").sum() == 1
