"""How well similar-case retrieval ranks: nDCG@k, precision@k class consistency, mAP, the source paper's protocol.

Metrics are functions of plain arrays (higher is better for all of them). The protocol follows the IG-CBIR paper
(Silva et al. 2020, whose code used split seeds 42, 1, 27, 57, 77): for each seed the data are split by patient,
stratified by the query finding, into a catalogue pool and test queries; for each query a small catalogue of ``Y``
cases is drawn holding exactly ``X`` cases of the query's class, every method ranks those ``Y``, and precision@X is
the share of the top ``X`` with the query's class (chance = X / Y: 0.40, 0.35, 0.37 for Top-4/Cat-10, Top-7/Cat-20,
Top-11/Cat-30). All methods rank the same drawn catalogues. Seeds give ``mean [min, max]``.

nDCG uses gain ``2^rel - 1`` and discount ``log2(i + 1)`` (i = 1-based rank), as the source study; scikit-learn's
``ndcg_score`` uses a linear gain and gives other numbers. Relevance comes from an expert ranking CSV when given
(rank r of n -> ``1 + 0.5 (n - r)``: 5.5, 5.0, ..., 1.0 for 10), else from label agreement (1 same class, 0 not).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chestxai.data.cache import cache_images
from chestxai.data.datasets.base import CXRDataset
from chestxai.data.preprocess import Preprocess
from chestxai.data.split import holdout_rows
from chestxai.errors import ConfigError, DataFormatError, UnknownFindingError
from chestxai.retrieval.embedders import Embedder, SSIMScorer, ssim_scores

SEEDS = (42, 1, 27, 57, 77)
SETTINGS: dict[str, tuple[int, int]] = {"top4_cat10": (4, 10), "top7_cat20": (7, 20), "top11_cat30": (11, 30)}
# The source paper's precision for each setting (Top-4/Cat-10, Top-7/Cat-20, Top-11/Cat-30).
PAPER_PRECISION: dict[str, tuple[float, float, float]] = {
    "ssim": (0.55, 0.40, 0.42),
    "cnn": (0.85, 0.60, 0.69),
    "igcbir": (0.95, 0.77, 0.80),
}
SUMMARY_COLUMNS = ["method", "setting", "metric", "mean", "min", "max", "n"]
WHOLE = "whole_catalogue"


# --- metrics -------------------------------------------------------------------------------------------------------


def dcg(relevance_in_order: Sequence[float], k: int | None = None, exponential: bool = True) -> float:
    """Discounted cumulative gain: sum over ranks i = 1..k of gain(rel_i) / log2(i + 1); gain 2^rel - 1 or rel."""
    rel = np.asarray(relevance_in_order, dtype=np.float64)[: (k if k is not None else None)]
    gains = np.exp2(rel) - 1.0 if exponential else rel
    return float(np.sum(gains / np.log2(np.arange(2, len(rel) + 2))))


def ndcg_at_k(
    relevance_in_order: Sequence[float],
    k: int,
    all_relevances: Sequence[float] | None = None,
    exponential: bool = True,
) -> float:
    """nDCG@k (higher is better, 1 = ideal order): DCG@k of the predicted order / DCG@k of the ideal order.

    ``all_relevances`` are those of every candidate (default: the ranked list itself) for the ideal order. NaN when
    no candidate is relevant.
    """
    ideal = np.sort(np.asarray(all_relevances if all_relevances is not None else relevance_in_order, float))[::-1]
    best = dcg(ideal, k, exponential)
    return dcg(relevance_in_order, k, exponential) / best if best > 0 else float("nan")


def precision_at_k(relevant_in_order: Sequence[bool], k: int) -> float:
    """Share of the top ``k`` that are relevant (same class as the query); higher is better."""
    top = np.asarray(relevant_in_order, dtype=bool)[:k]
    if k <= 0 or len(top) == 0:
        return float("nan")
    return float(top.sum() / k)


def average_precision(relevant_in_order: Sequence[bool]) -> float:
    """Mean of precision@i over the ranks i of the relevant items of a full ranking; NaN without relevant items."""
    rel = np.asarray(relevant_in_order, dtype=bool)
    if not rel.any():
        return float("nan")
    hits = np.cumsum(rel)
    return float(np.mean(hits[rel] / (np.flatnonzero(rel) + 1)))


def expert_relevance(rank: int | np.ndarray, n: int) -> np.ndarray:
    """Linear relevance of an expert's rank r (1 = most similar) in a list of n: 1 + 0.5 (n - r), as the study."""
    return 1.0 + 0.5 * (n - np.asarray(rank, dtype=np.float64))


def read_expert_ranking(path: str | Path) -> dict[str, dict[str, float]]:
    """``{query: {case: relevance}}`` from a CSV ``query,case,rank`` or ``query,case,relevance``."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"query": str, "case": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataFormatError(f"{path}: cannot read the expert ranking ({exc})") from None
    if not {"query", "case"} <= set(table.columns) or not ({"rank", "relevance"} & set(table.columns)):
        raise DataFormatError(f"{path}: an expert ranking needs columns query,case,rank or query,case,relevance")
    out: dict[str, dict[str, float]] = {}
    for query, group in table.groupby("query", sort=False):
        if "relevance" in group.columns:
            rel = group["relevance"].to_numpy(float)
        else:
            rel = expert_relevance(group["rank"].to_numpy(float), len(group))
        out[str(query)] = dict(zip(group["case"].astype(str), rel.tolist()))
    return out


# --- similarity ----------------------------------------------------------------------------------------------------

Method = Embedder | SSIMScorer


def similarity_matrix(method: Method, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """All-pairs similarity ``[n, n]`` (higher = more similar) of uint8 images at the method's input size.

    Cosine for ``ip`` embedders, minus the Euclidean distance for ``l2`` ones, SSIM for the baseline. Quadratic in
    memory: meant for evaluation sets (thousands), not for catalogues (those use the FAISS index).
    """
    if isinstance(method, SSIMScorer):
        pixels = method.pixels(list(images))
        return np.stack([ssim_scores(p, pixels) for p in pixels]).astype(np.float32)
    vectors = np.concatenate(
        [method.embed(list(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]
    )
    if method.metric == "ip":
        return vectors @ vectors.T
    sq = np.sum(vectors.astype(np.float64) ** 2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * vectors.astype(np.float64) @ vectors.T.astype(np.float64), 0)
    return (-np.sqrt(d2)).astype(np.float32)


def rank(similarity_row: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``candidates`` ordered by decreasing similarity (stable: ties keep the drawn order)."""
    return candidates[np.argsort(-similarity_row[candidates], kind="stable")]


# --- protocol ------------------------------------------------------------------------------------------------------


@dataclass
class RetrievalData:
    """The labelled, readable images of one evaluation: uint8 pixels, binary class, meta rows."""

    images: np.ndarray
    classes: np.ndarray
    meta: pd.DataFrame
    finding: str


def prepare(dataset: CXRDataset, finding: str, pre: Preprocess) -> RetrievalData:
    """Readable images with a known label for ``finding``, decoded once through the image cache."""
    if finding not in dataset.findings:
        raise UnknownFindingError(f"finding {finding!r} not in the data (it has: {', '.join(dataset.findings)})")
    cached = cache_images(dataset, pre)
    col = dataset.labels[:, dataset.findings.index(finding)]
    rows = np.flatnonzero(cached.valid & ~np.isnan(col))
    if len(rows) == 0:
        raise DataFormatError(f"no readable image with a known {finding} label")
    images = np.asarray(cached.images[rows])
    return RetrievalData(images, col[rows].astype(int), dataset.meta.iloc[rows].reset_index(drop=True), finding)


def split_queries(
    data: RetrievalData, seed: int, test_fraction: float, query_patients: Collection[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Catalogue pool and test queries: by patient, stratified by class, reproducible by seed.

    ``query_patients`` fixes the queries to those patients' images and the pool to everyone else's (the seed then
    only draws the catalogues): how one keeps a model's training patients out of the queries, since a network
    ranks images of patients it was trained on more confidently than a new patient's.
    """
    if query_patients is not None:
        is_query = data.meta["patient_id"].astype(str).isin({str(p) for p in query_patients}).to_numpy()
        return np.flatnonzero(~is_query), np.flatnonzero(is_query)
    return holdout_rows(data.meta, test_fraction, seed, labels=data.classes[:, None].astype(float))


def draw_catalogue(rng: np.random.Generator, pool: np.ndarray, classes: np.ndarray, cls: int, x: int, y: int
                   ) -> np.ndarray | None:
    """``y`` pool rows of which exactly ``x`` have class ``cls``, shuffled; None when the pool is too small."""
    same, other = pool[classes[pool] == cls], pool[classes[pool] != cls]
    if len(same) < x or len(other) < y - x:
        return None
    chosen = np.concatenate([rng.choice(same, x, replace=False), rng.choice(other, y - x, replace=False)])
    return rng.permutation(chosen)


@dataclass
class SeedScores:
    """Per-query values of one seed, keyed by (method, setting, metric)."""

    values: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)

    def add(self, method: str, setting: str, metric: str, value: float) -> None:
        self.values.setdefault((method, setting, metric), []).append(value)


def score_seed(
    data: RetrievalData, sims: dict[str, np.ndarray], seed: int, test_fraction: float,
    query_patients: Collection[str] | None = None,
) -> SeedScores:
    """Precision@X and nDCG@X on drawn catalogues, mAP and precision@10 on the whole pool, for one split seed."""
    pool, queries = split_queries(data, seed, test_fraction, query_patients)
    rng = np.random.default_rng(seed)
    out = SeedScores()
    classes = data.classes
    for q in queries:
        for setting, (x, y) in SETTINGS.items():
            cand = draw_catalogue(rng, pool, classes, classes[q], x, y)
            if cand is None:
                continue
            for name, sim in sims.items():
                rel = classes[rank(sim[q], cand)] == classes[q]
                out.add(name, setting, "precision", precision_at_k(rel, x))
                out.add(name, setting, "ndcg", ndcg_at_k(rel.astype(float), x))
                if classes[q] == 1:  # the rare class, which the all-query mean hardly weighs; same chance X / Y
                    out.add(name, setting, "precision_pos", precision_at_k(rel, x))
        for name, sim in sims.items():
            rel = classes[rank(sim[q], rng.permutation(pool))] == classes[q]
            out.add(name, WHOLE, "map", average_precision(rel))
            out.add(name, WHOLE, "precision@10", precision_at_k(rel, 10))
    return out


ExpertList = tuple[int, dict[int, float]]  # query row, {case row: relevance}


def expert_lists(data: RetrievalData, expert: dict[str, dict[str, float]]) -> list[ExpertList]:
    """The expert's queries found in the data with at least two of their ranked cases, as data rows."""
    where = _path_index(data.meta)
    lists = []
    for query, cases in expert.items():
        q = where.get(_norm(query))
        found = {where[_norm(c)]: r for c, r in cases.items() if _norm(c) in where}
        if q is not None and len(found) >= 2:
            lists.append((q, found))
    return lists


def check_expert_lists(lists: list[ExpertList], expert: dict[str, dict[str, float]], source: str | Path,
                       log: Callable[[str], None]) -> None:
    """An expert file none of whose queries is in the data is a user error (no expert table would come out,
    silently); a partial match is said, so a misspelt half of the file does not pass unnoticed."""
    if not lists:
        example = next(iter(expert), "")
        raise DataFormatError(
            f"{source}: none of its {len(expert)} queries is an image of --data with at least 2 of its ranked cases "
            f"(images are matched by file name, e.g. {Path(example).name!r})")
    if len(lists) < len(expert):
        log(f"expert ranking: {len(lists)} of its {len(expert)} queries found in the data (matched by file name)")


def expert_scores(sims: dict[str, np.ndarray], lists: list[ExpertList], k: int = 10) -> SeedScores:
    """nDCG@k of each method's order of the cases an expert ranked, per expert query (:func:`expert_lists`)."""
    out = SeedScores()
    for q, relevance in lists:
        cand = np.asarray(list(relevance))
        for name, sim in sims.items():
            ordered = [relevance[i] for i in rank(sim[q], cand)]
            out.add(name, "expert", "ndcg", ndcg_at_k(ordered, min(k, len(cand)), list(relevance.values())))
    return out


def _norm(path: str) -> str:
    return Path(str(path)).name


def _path_index(meta: pd.DataFrame) -> dict[str, int]:
    """Expert files name images by file name (or path): match on the file name."""
    return {_norm(p): i for i, p in enumerate(meta["path"].astype(str))}


def summarise(per_seed: list[SeedScores], expert: SeedScores | None = None) -> pd.DataFrame:
    """Rows ``method, setting, metric, mean, min, max, n``: mean/min/max over seeds of the per-seed means.

    ``n`` counts query evaluations (queries x seeds). Expert rows have one "seed": their min/max are over queries.
    """
    rows = []
    keys = sorted({k for s in per_seed for k in s.values}, key=_row_order)
    for key in keys:
        means = [np.nanmean(s.values[key]) for s in per_seed if key in s.values]
        n = sum(len(s.values.get(key, [])) for s in per_seed)
        rows.append([*key, float(np.mean(means)), float(np.min(means)), float(np.max(means)), n])
    for key, values in sorted((expert.values if expert else {}).items(), key=lambda kv: _row_order(kv[0])):
        rows.append([*key, float(np.nanmean(values)), float(np.nanmin(values)), float(np.nanmax(values)), len(values)])
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _row_order(key: tuple[str, str, str]) -> tuple[int, int, str]:
    method, setting, metric = key
    methods = ["ssim", "cnn", "igcbir"]
    settings = [*SETTINGS, WHOLE, "expert"]
    return (methods.index(method) if method in methods else 99, settings.index(setting), metric)


def chance_level(setting: str) -> float:
    x, y = SETTINGS[setting]
    return x / y


# --- report --------------------------------------------------------------------------------------------------------


def _fmt(row: pd.Series | None) -> str:
    if row is None:
        return "-"
    return f"{row['mean']:.2f} [{row['min']:.2f}, {row['max']:.2f}]"


def _lookup(summary: pd.DataFrame, method: str, setting: str, metric: str) -> pd.Series | None:
    hit = summary[(summary.method == method) & (summary.setting == setting) & (summary.metric == metric)]
    return None if hit.empty else hit.iloc[0]


def markdown_summary(summary: pd.DataFrame, info: dict[str, Any]) -> str:
    """summary.md: precision next to chance and the paper's row, nDCG, whole-catalogue mAP, expert nDCG."""
    head = [f"# Retrieval evaluation: {info['finding']} queries", ""]
    if info.get("command"):
        head += [f"Command: `{info['command']}`", ""]
    return "\n".join(head) + summary_body(summary, info)


def summary_body(summary: pd.DataFrame, info: dict[str, Any]) -> str:
    """The part of summary.md below the title and command (reports embed it under their own header)."""
    methods = list(dict.fromkeys(summary["method"]))
    lines = [
        f"{info['images']} labelled images ({info['positives']} positive), {info['patients']} patients; "
        f"split seeds {', '.join(map(str, info['seeds']))} ({_query_text(info)}). Each query ranks a drawn "
        f"catalogue of Y cases holding exactly X of its class; precision@X = share of the top X with the query's class, chance = X / Y. "
        f"Values: mean [min, max] over the seeds of the per-seed mean over queries.",
        "",
        f"nDCG relevance: {info['relevance']}; gain 2^rel - 1, discount log2(i + 1).",
        "",
        f"precision (positive queries): the same over the {info['finding']}-positive queries only.",
        "",
        "| method | setting | precision | precision (positive queries) | chance | paper | nDCG |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in methods:
        for i, setting in enumerate(SETTINGS):
            paper = PAPER_PRECISION.get(method)
            lines.append(
                f"| {method} | {setting} | {_fmt(_lookup(summary, method, setting, 'precision'))} | "
                f"{_fmt(_lookup(summary, method, setting, 'precision_pos'))} | "
                f"{chance_level(setting):.2f} | {f'{paper[i]:.2f}' if paper else '-'} | "
                f"{_fmt(_lookup(summary, method, setting, 'ndcg'))} |"
            )
    lines += ["", f"Whole catalogue pool (every pool case ranked; chance mAP ~ class share, "
                  f"{info['chance_whole']:.2f} averaged over queries):", "",
              "| method | mAP | precision@10 |", "|---|---|---|"]
    for method in methods:
        lines.append(f"| {method} | {_fmt(_lookup(summary, method, WHOLE, 'map'))} | "
                     f"{_fmt(_lookup(summary, method, WHOLE, 'precision@10'))} |")
    if (summary.setting == "expert").any():
        lines += ["", "Expert ranking (nDCG@10 of each method's order of the expert-ranked cases; "
                      "[min, max] over queries):", "", "| method | nDCG | queries |", "|---|---|---|"]
        for method in methods:
            row = _lookup(summary, method, "expert", "ndcg")
            lines.append(f"| {method} | {_fmt(row)} | {int(row['n']) if row is not None else 0} |")
    lines += ["", "Worked example (the source study's Table 1): the expert's ranks in predicted order "
                  "3, 2, 4, 1, 6, 5, 8, 7, 10, 9 give nDCG@10 = "
                  f"{ndcg_at_k(expert_relevance(WORKED_EXAMPLE, 10), 10):.3f} with exponential gain and "
                  f"{ndcg_at_k(expert_relevance(WORKED_EXAMPLE, 10), 10, exponential=False):.3f} with linear gain; "
                  "the printed 0.79 cannot be reproduced.", ""]
    if info.get("figure"):
        lines += [f"![query and top-4 per method]({info['figure']})", ""]
    return "\n".join(lines)


def _query_text(info: dict[str, Any]) -> str:
    """Who the queries are: a seed-drawn share of the patients, or a fixed held-out set."""
    fixed = info.get("fixed_queries")
    if fixed:
        return (f"queries: the {fixed['images']} images ({fixed['positives']} positive) of {fixed['patients']} "
                f"held-out patients, every seed; catalogue pool: the other patients' images; the seeds draw the "
                f"catalogues")
    return (f"patient-level, stratified; {info['test_fraction']:.0%} of patients are queries, the rest the "
            f"catalogue pool")


WORKED_EXAMPLE = np.array([3, 2, 4, 1, 6, 5, 8, 7, 10, 9])


def plot_examples(data: RetrievalData, sims: dict[str, np.ndarray], pool: np.ndarray, queries: Sequence[int],
                  path: Path, k: int = 4) -> None:
    """Figure-4-like grid: per query and method, the query then its top-k; green border = same class, red = not."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(q, name) for q in queries for name in sims]
    fig, axes = plt.subplots(len(rows), k + 1, figsize=(1.6 * (k + 1), 1.7 * len(rows)), squeeze=False)
    for r, (q, name) in enumerate(rows):
        top = rank(sims[name][q], pool)[:k]
        _tile(axes[r][0], data.images[q], "black", f"query ({data.finding}={data.classes[q]})")
        axes[r][0].set_ylabel(name, fontsize=9)
        for c, case in enumerate(top, start=1):
            colour = "green" if data.classes[case] == data.classes[q] else "red"
            _tile(axes[r][c], data.images[case], colour, f"{sims[name][q, case]:.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _tile(ax: Any, image: np.ndarray, colour: str, title: str) -> None:
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    ax.set_title(title, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(3)


def _example_queries(data: RetrievalData, queries: np.ndarray) -> list[int]:
    """One positive and one negative query (the first of each in split order)."""
    picks = [queries[data.classes[queries] == c][:1] for c in (1, 0)]
    return [int(i) for p in picks for i in p]


def evaluate_retrieval(
    dataset: CXRDataset,
    finding: str,
    methods: dict[str, Method],
    out_dir: str | Path,
    pre: Preprocess,
    expert_csv: str | Path | None = None,
    seeds: Sequence[int] = SEEDS,
    test_fraction: float = 0.2,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    query_patients: Collection[str] | None = None,
    command: str = "",
) -> pd.DataFrame:
    """Run the protocol for ``methods`` and write ``summary.csv``, ``summary.md``, ``examples.png``, ``summary.json``.

    ``query_patients``: only these patients' images are queries (see :func:`split_queries`). ``command``: the
    command line the caller wants recorded with the results (the CLI's own, a script's ``sys.argv``).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError("the query fraction must be between 0 and 1")
    data = prepare(dataset, finding, pre)
    if len(np.unique(data.classes)) < 2:
        raise DataFormatError(f"retrieval evaluation needs {finding}-positive and -negative images")
    lists = None
    if expert_csv:  # read and matched first: a bad file fails before the similarities are computed
        expert_table = read_expert_ranking(expert_csv)
        lists = expert_lists(data, expert_table)
        check_expert_lists(lists, expert_table, expert_csv, log)
    sims = {}
    for name, method in methods.items():
        log(f"similarities: {name} over {len(data.images)} images")
        sims[name] = similarity_matrix(method, data.images)
    per_seed = [score_seed(data, sims, seed, test_fraction, query_patients) for seed in seeds]
    expert = expert_scores(sims, lists) if lists is not None else None
    summary = summarise(per_seed, expert)
    if summary.empty:
        raise DataFormatError("too few images of each class to draw the catalogues (need 11 of one, 19 of the other)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pool, queries = split_queries(data, seeds[0], test_fraction, query_patients)
    if len(queries) == 0:
        raise DataFormatError("no query image: none of the query patients has a readable, labelled image")
    plot_examples(data, sims, pool, _example_queries(data, queries), out / "examples.png")
    info = _report_info(data, seeds, test_fraction, expert is not None and bool(expert.values), pool, queries)
    info["command"] = command
    if query_patients is not None:
        info["fixed_queries"] = {"images": int(len(queries)), "positives": int(data.classes[queries].sum()),
                                 "patients": int(data.meta["patient_id"].iloc[queries].nunique())}
    summary.to_csv(out / "summary.csv", index=False, float_format="%.4f")
    (out / "summary.md").write_text(markdown_summary(summary, {**info, "figure": "examples.png"}))
    (out / "summary.json").write_text(json.dumps({**info, "rows": summary.to_dict("records")}, indent=2,
                                                 default=float))
    return summary


def _report_info(data: RetrievalData, seeds: Sequence[int], test_fraction: float, expert: bool,
                 pool: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    share = float(np.mean(data.classes[pool]))
    query_share = float(np.mean(data.classes[queries]))
    return {
        "command": "",
        "finding": data.finding,
        "images": int(len(data.classes)),
        "positives": int(data.classes.sum()),
        "patients": int(data.meta["patient_id"].nunique()),
        "seeds": list(seeds),
        "test_fraction": test_fraction,
        "relevance": ("expert ranking (1 + 0.5 (n - rank)) for the expert table; label agreement (1 same class, "
                      "0 not) for the settings") if expert else "label agreement (1 same class, 0 not)",
        "chance_whole": query_share * share + (1 - query_share) * (1 - share),
        "chance": {s: chance_level(s) for s in SETTINGS},
        "paper_precision": PAPER_PRECISION,
    }
