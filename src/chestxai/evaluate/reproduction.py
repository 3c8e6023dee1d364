"""The reproduction report: the source studies' tables beside ours, on held-out patients, in one Markdown page.

It only composes the three evaluations that exist on their own (``evaluate_model``, ``evaluate_explanations``,
``evaluate_retrieval``): each writes its full report into a sub-folder, and the page puts the headline numbers
side by side with the published ones and links the rest. Held-out = the patient-level test split that
``release/train_reference.py`` kept out of training (same seed and fraction), so no number is on trained images.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from chestxai.data.datasets import load_dataset
from chestxai.data.datasets.base import CXRDataset
from chestxai.data.split import holdout_split
from chestxai.errors import ChestXAIError
from chestxai.evaluate.explanation_report import evaluate_explanations
from chestxai.evaluate.explanations import SOURCE_STUDY_GRADCAM
from chestxai.evaluate.report import evaluate_model
from chestxai.evaluate.retrieval import SETTINGS, chance_level, evaluate_retrieval
from chestxai.explain.base import EVALUATED_METHODS
from chestxai.models.checkpoint import decision_thresholds
from chestxai.models.classifier import Classifier

Log = Callable[[str], None]

# Published figures (the task's source studies); quoted, never computed.
SOURCE_AUC = {"effusion": "0.94 val / 0.91 test (DenseNet-169, ImageNet + CheXpert-scale data)",
              "pneumonia": "0.906 (ResNet50 on the Kermany paediatric test split; accuracy 0.83)"}
SOURCE_NDCG = 0.79
SOURCE_PRECISION = {"ssim": (0.55, 0.40, 0.42), "cnn": (0.85, 0.60, 0.69), "igcbir": (0.95, 0.77, 0.80)}


def held_out(dataset: CXRDataset, seed: int, test_fraction: float | None) -> CXRDataset:
    """The test patients of the training protocol (same split function, seed and fraction); ``None``: the data
    are held-out already (the shipped sample), so every image counts."""
    if test_fraction is None:
        return dataset
    return holdout_split(dataset, test_fraction, seed)[1]


def _ci(entry: dict[str, Any]) -> str:
    lo, hi = entry["auc_ci"]
    return f"{entry['auc']:.3f} [{lo:.3f}, {hi:.3f}] (n {entry['n']}, {entry['positives']} positive)"


def classification_rows(report: dict[str, Any], kermany: dict[str, Any] | None) -> list[list[str]]:
    """Headline AUC rows: effusion overall, pneumonia within the source that has both classes, Kermany."""
    rows = [["effusion AUC", SOURCE_AUC["effusion"], _ci(report["effusion"])]]
    within = {s: e for s, e in report.get("pneumonia", {}).get("by_source", {}).items()
              if e["positives"] >= 5 and e["n"] - e["positives"] >= 5}
    for source, entry in within.items():
        rows.append([f"pneumonia AUC, adult NIH, within {source}", SOURCE_AUC["pneumonia"], _ci(entry)])
    if not within and "pneumonia" in report:  # one source only: no confound to step around
        rows.append(["pneumonia AUC, adult", SOURCE_AUC["pneumonia"], _ci(report["pneumonia"])])
    if kermany:
        entry = kermany["pneumonia"]
        rows.append(["pneumonia AUC, paediatric (Kermany held-out patients)", SOURCE_AUC["pneumonia"], _ci(entry)])
        rows.append([f"pneumonia accuracy, paediatric (threshold {entry['threshold']:.2f})", "0.83",
                     f"{entry['accuracy']:.3f}"])
    return rows


def quantus_rows(summary: pd.DataFrame, finding: str) -> list[list[str]]:
    """Grad-CAM's Quantus scores beside the source study's, plus the best method per metric."""
    table = summary.set_index("method")
    rows = []
    for metric, published in SOURCE_STUDY_GRADCAM.items():
        if metric not in table.columns or table[metric].isna().all():  # e.g. localisation without any box
            rows.append([f"{metric} ({finding}, Grad-CAM)", str(published), "n/a (no box or no scored map)", "n/a"])
            continue
        ours = table.loc["gradcam"] if "gradcam" in table.index else None
        cell = "n/a" if ours is None or pd.isna(ours[metric]) else (
            f"{ours[metric]:.3f} [{ours[metric + '_lo']:.3f}, {ours[metric + '_hi']:.3f}] "
            f"(n {int(ours[metric + '_n'])} of {int(ours['n'])})")
        higher = metric == "relevance_mass_accuracy"
        scored = table[metric].dropna()
        best = (scored.idxmax() if higher else scored.idxmin()) if len(scored) else "n/a"
        best_cell = f"{best} {scored[best]:.3f}" if len(scored) else "n/a"
        chance = (f" (chance {table['chance_level'].dropna().iloc[0]:.3f})"
                  if higher and table["chance_level"].notna().any() else "")
        rows.append([f"{metric} ({finding}, Grad-CAM)", str(published), cell + chance, best_cell])
    return rows


def retrieval_rows(summary: pd.DataFrame) -> list[list[str]]:
    """Precision@k per method and setting beside the paper's, with chance; label-agreement nDCG@10."""
    rows = []
    for method in ("ssim", "cnn", "igcbir"):
        cells = []
        for setting in SETTINGS:
            hit = summary[(summary.method == method) & (summary.setting == setting) & (summary.metric == "precision")]
            cells.append("-" if hit.empty else f"{hit['mean'].iloc[0]:.2f} [{hit['min'].iloc[0]:.2f}, "
                                                f"{hit['max'].iloc[0]:.2f}]")
        if any(c != "-" for c in cells):
            published = " / ".join(f"{v:.2f}" for v in SOURCE_PRECISION[method])
            rows.append([f"precision@k {method} (top4/cat10, top7/cat20, top11/cat30)", published, " / ".join(cells)])
    rows.append(["chance for those settings", "", " / ".join(f"{chance_level(s):.2f}" for s in SETTINGS)])
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *["| " + " | ".join(r) + " |" for r in rows]]


def _demote(markdown: str) -> str:
    """Sub-report headings one level down, so they nest under the page's sections."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def reproduce(
    model: Classifier,
    data_dir: str | Path,
    out_dir: str | Path,
    kermany_model: Classifier | None = None,
    kermany_dir: str | Path | None = None,
    retrieval_methods: dict[str, Any] | None = None,
    explanation_methods: tuple[str, ...] = EVALUATED_METHODS,
    seed: int = 0,
    test_fraction: float | None = 0.2,
    command: str = "",
    log: Log = lambda m: print(m, file=sys.stderr),
) -> Path:
    """Run the three evaluations on held-out patients and write ``out_dir/README.md``; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(data_dir, findings=model.findings)
    test = held_out(data, seed, test_fraction)
    log(f"classification on {len(test)} held-out images")
    cls = evaluate_model(model, test, out / "classification", threshold=decision_thresholds(model, 0.5))
    kermany = None
    if kermany_model is not None and kermany_dir is not None:
        k_test = held_out(load_dataset(kermany_dir, findings=kermany_model.findings), seed, test_fraction)
        log(f"paediatric classification on {len(k_test)} held-out images")
        kermany = evaluate_model(kermany_model, k_test, out / "kermany",
                                 threshold=decision_thresholds(kermany_model, 0.5))

    where = (f"the patient-level test split (seed {seed}, {test_fraction:.0%} of patients) of `{data_dir}`"
             if test_fraction is not None else f"`{data_dir}`, whose patients were all held out from training")
    init = (model.checkpoint_meta.get("config") or {}).get("init")
    start = f"trunk initialised from {init} (see its model card)" if init else "random init"
    sections = ["# Reproduction report: chestxai against the source studies", "",
                f"Command: `{command}`" if command else "", "",
                f"Model `{model.checkpoint_meta.get('shipped_name', model.arch)}` ({model.arch}, "
                f"{model.preprocess.image_size} px, {start}; no ImageNet weights here). Held-out data: {where}: "
                f"{len(test)} images never used for training or model selection. Intervals: 95% bootstrap for AUCs "
                "and explanation metrics, [min, max] over the 5 split seeds for precision@k.", "",
                "## Headline: source study vs ours", ""]
    head_rows = classification_rows(cls, kermany)
    quantus_body, quantus_table = [], []
    for finding in ("effusion", "pneumonia"):
        try:
            log(f"explanations for {finding} on the held-out boxed images")
            summary = evaluate_explanations(model, test, finding, list(explanation_methods),
                                            out / f"explanations_{finding}", seed=seed)
            quantus_table += quantus_rows(summary, finding)
            quantus_body.append(_demote((out / f"explanations_{finding}" / "summary.md").read_text()))
        except ChestXAIError as exc:
            quantus_body.append(f"### Explanations for `{finding}`\n\nNot evaluated: {exc}\n")
    retrieval_body, retrieval_table = "", []
    if retrieval_methods:
        log("retrieval (effusion), queries from held-out patients only")
        pre = next((m.preprocess for m in retrieval_methods.values() if hasattr(m, "preprocess")), model.preprocess)
        patients = (set(test.meta["patient_id"].astype(str))
                    if test_fraction is not None and "patient_id" in test.meta else None)
        r_summary = evaluate_retrieval(data, "effusion", retrieval_methods, out / "retrieval", pre,
                                       query_patients=patients, log=log, command=command)
        retrieval_table = retrieval_rows(r_summary)
        ndcg = r_summary[(r_summary.metric == "ndcg") & (r_summary.setting == "top11_cat30")]
        for _, row in ndcg.iterrows():
            retrieval_table.append([f"nDCG {row['method']} (label agreement, top11/cat30)", f"{SOURCE_NDCG} (expert "
                                    "ranking; its own Table 1 gives 0.852, see retrieval report)",
                                    f"{row['mean']:.2f} [{row['min']:.2f}, {row['max']:.2f}]"])
        retrieval_body = _demote((out / "retrieval" / "summary.md").read_text()).replace("](", "](retrieval/")
    sections += _table(["quantity", "source study", "ours [95% interval]"], head_rows + retrieval_table)
    if quantus_table:
        sections += ["", "Quantus metrics (Grad-CAM, as in the source study; last column: our best method):", "",
                     *_table(["metric", "source study", "ours: Grad-CAM", "ours: best method"], quantus_table)]
    sections += ["", "## Classification (held-out patients)", "", _demote((out / "classification" / "metrics.md")
                 .read_text()), "", "![ROC](classification/roc.png)", ""]
    if kermany is not None:
        sections += ["## Paediatric pneumonia (Kermany, held-out patients of its train split)", "",
                     "The dataset's official test split is not available here; these are other patients of its "
                     "train split.", "", _demote((out / "kermany" / "metrics.md").read_text()), ""]
    sections += ["## Explanations against radiologist boxes (held-out patients)", "", *quantus_body]
    for finding in ("effusion", "pneumonia"):
        if (out / f"explanations_{finding}" / "pixel_flipping.png").is_file():
            sections += [f"![pixel flipping {finding}](explanations_{finding}/pixel_flipping.png)", ""]
    if retrieval_body:
        sections += ["## Similar-case retrieval", "", retrieval_body, ""]
    page = out / "README.md"
    page.write_text("\n".join(sections) + "\n")
    return page

