"""The training loop of the source recipe, sized for CPUs and small data.

Recipe: BCEWithLogits (NaN labels masked, optional positive weighting), AdamW (weight decay 1e-4),
ReduceLROnPlateau on validation loss (factor 0.1, patience 5), early stopping on validation AUC, batch 32,
albumentations augmentation. Two choices for small validation sets: the model that is validated and saved is an
exponential moving average of the weights (timm's ``ModelEmaV3``, i.e. checkpoint averaging), because on a few
hundred validation images the AUC of raw weights swings by 0.2 between epochs; and images are decoded once into a
memory-mapped cache, so on 2 cores the network, not PNG decoding, sets the pace. ``head_epochs`` > 0 is LP-FT
(Kumar et al. 2022): the head first learns on the frozen pretrained trunk, so fine-tuning starts from a head that
fits and distorts the pretrained features less.
"""

from __future__ import annotations

import copy
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from chestxai.data.atomic import atomic_write_text
from chestxai.data.cache import CachedImages, cache_images
from chestxai.data.confound import mask_confounded
from chestxai.data.datasets.base import CXRDataset
from chestxai.data.preprocess import Preprocess
from chestxai.data.split import patient_split
from chestxai.errors import ConfigError, DataFormatError, UnknownFindingError
from chestxai.evaluate.classification import auc, mean_auc, plot_roc, threshold_metrics
from chestxai.models.checkpoint import atomic_torch_save, load_checkpoint, save_checkpoint
from chestxai.models.classifier import Classifier, copy_trunk
from chestxai.models.registry import arch_spec
from chestxai.train.augment import AUGMENTATIONS, build_augmentation
from chestxai.train.distributed import DistContext, session
from chestxai.train.losses import MaskedBCEWithLogits, positive_weights


@dataclass
class TrainConfig:
    """Every knob of a run; stored in ``metrics.json`` and checked on resume."""

    findings: list[str]
    arch: str = "densenet121"
    pretrained: str = "none"
    image_size: int = 224
    epochs: int = 25
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0  # the patient split; also the random draws unless run_seed is given
    run_seed: int | None = None  # head init, shuffling, augmentation: vary it to measure seed noise on one split
    val_fraction: float = 0.15
    augment: tuple[str, ...] = AUGMENTATIONS
    pos_weight: bool = False
    within_source: tuple[str, ...] = ()  # findings learned only within the sources where they vary (data.confound)
    lr_patience: int = 5
    early_stop_patience: int = 10
    ema_decay: float = 0.99
    dropout: float = 0.0
    strict: bool = False
    init: str | None = None
    head_epochs: int = 0  # LP-FT: train only the head this many epochs (trunk frozen, BN statistics fixed) first
    command: str = field(default_factory=lambda: invoking_command())

    def __post_init__(self) -> None:
        """Refuse a run that cannot train, for every caller (the CLI, scripts, IG-CBIR's recipe), before any work.
        The messages name the ``chestxai train`` options the fields come from. ``head_epochs == epochs`` (a linear
        probe, no fine-tuning) is a valid run here; ``chestxai train`` does not offer it."""
        if self.epochs < 1 or self.batch_size < 1 or self.image_size < 16:
            raise ConfigError("--epochs and --batch-size must be >= 1 and --image-size >= 16")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError("--val-fraction must be between 0 and 1")
        if not 0 <= self.head_epochs <= self.epochs:
            raise ConfigError("--head-epochs must be >= 0 and at most --epochs")
        if stray := [f for f in self.within_source if f not in self.findings]:
            raise UnknownFindingError(f"--within-source {', '.join(stray)}: not among --findings "
                                      f"({', '.join(self.findings)})")


def draw_seed(config: TrainConfig) -> int:
    """Seed of a run's random draws: ``run_seed`` when given, else the split ``seed`` (older runs replay unchanged)."""
    return config.seed if config.run_seed is None else config.run_seed


def invoking_command(argv: list[str] | None = None) -> str:
    """This process's command line, shell-quoted and runnable as written (a script gets its ``python`` back)."""
    argv = list(sys.argv if argv is None else argv)
    return ("python " if argv and argv[0].endswith(".py") else "") + shlex.join(argv)


class CachedImageDataset(Dataset):
    """Rows ``indices`` of a cached uint8 array, augmented (uint8) then normalised to ``[1, S, S]``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray, pre: Preprocess, aug=None):
        self.images, self.labels, self.indices, self.pre, self.aug = images, labels, indices, pre, aug

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = int(self.indices[i])
        image = np.asarray(self.images[row])
        if self.aug is not None:
            image = self.aug(image=image)["image"]
        return self.pre.normalise(image), torch.from_numpy(self.labels[row])


def seed_everything(seed: int) -> None:
    """Seed torch and numpy; called at each epoch start with ``seed + epoch`` so a resumed run replays exactly."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def split_for_training(dataset: CXRDataset, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Patient-level train/val indices; rows marked ``split == test`` (Kaggle layout) are never trained on."""
    usable = np.arange(len(dataset))
    if "split" in dataset.meta.columns:
        usable = np.flatnonzero(dataset.meta["split"].astype(str).str.lower().to_numpy() != "test")
    sub = dataset.subset(usable)
    parts = patient_split(sub.meta, (1.0 - val_fraction, val_fraction, 0.0), seed=seed, labels=sub.labels)
    return usable[parts["train"]], usable[parts["val"]]


def _loader(ds: Dataset, batch_size: int, shuffle: bool, seed: int, sampler=None) -> DataLoader:
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler, generator=gen,
                      num_workers=0, drop_last=False)


@torch.no_grad()
def _evaluate(model: Classifier, loader: DataLoader, loss_fn: MaskedBCEWithLogits,
              device: torch.device = torch.device("cpu")) -> tuple[float, np.ndarray, np.ndarray]:
    model.eval()
    losses, probs, labels = [], [], []
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        losses.append(float(loss_fn(logits, y)) * len(x))
        probs.append(model.probabilities(logits).cpu().numpy())
        labels.append(y.cpu().numpy())
    n = sum(len(p) for p in probs)
    return sum(losses) / max(n, 1), np.concatenate(probs), np.concatenate(labels)


def fit(
    dataset: CXRDataset,
    out_dir: str | Path,
    config: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    initial_model: Classifier | None = None,
    images: CachedImages | None = None,
) -> dict[str, Any]:
    """Train on ``dataset`` (its own patient-level val split) and write ``out_dir/model.pt`` + ``metrics.json``.

    ``out_dir/last.pt`` holds the full state after every epoch; ``resume=True`` continues from it.
    Returns the metrics dict that is also written to ``metrics.json``. ``initial_model`` fine-tunes a copy of that
    model instead of building a new one, and ``images`` replaces the decoded images with other pixels aligned with
    ``dataset`` (IG-CBIR fine-tunes the classifier on its own saliency maps this way).

    Started by ``torchrun`` or ``chestxai train --nproc N`` (WORLD_SIZE > 1 in the environment), the same call trains
    data-parallel (see :mod:`chestxai.train.distributed`); every rank returns rank 0's metrics.
    """
    with session() as ctx:
        return _fit(dataset, out_dir, config, resume, progress, log, initial_model, images, ctx)


def _fit(dataset: CXRDataset, out_dir: str | Path, config: TrainConfig, resume: bool, progress: bool,
         log: Callable[[str], None], initial_model: Classifier | None, images: CachedImages | None,
         ctx: DistContext) -> dict[str, Any]:
    """The body of :func:`fit` for one process of ``ctx`` (the only process when single-process)."""
    if not ctx.is_main:
        log, progress = (lambda m: None), False
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dataset = dataset.select(config.findings)
    blanked: dict[str, list[str]] = {}
    if config.within_source:
        dataset, blanked = mask_confounded(dataset, list(config.within_source))
        log(f"learned within source only: {blanked or 'nothing blanked (no source where a finding hardly varies)'}")
    spec = arch_spec(config.arch)  # the normalisation the architecture's ImageNet weights were trained on
    pre = (initial_model.preprocess if initial_model is not None
           else Preprocess(config.image_size, spec.mean, spec.std))
    cached = images if images is not None else ctx.main_first(lambda: cache_images(dataset, pre, strict=config.strict))
    if cached.errors:
        log(f"skipped {len(cached.errors)} unreadable image(s); first: {next(iter(cached.errors.values()))}")
    train_idx, val_idx = split_for_training(dataset, config.val_fraction, config.seed)
    train_idx, val_idx = train_idx[cached.valid[train_idx]], val_idx[cached.valid[val_idx]]
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise DataFormatError(f"not enough readable images to train and validate ({len(train_idx)} / {len(val_idx)})")
    log(f"training on {len(train_idx)} images, validating on {len(val_idx)} (patient-level split, seed {config.seed})")

    draws = draw_seed(config)
    torch.manual_seed(draws)
    if initial_model is not None:
        model = copy.deepcopy(initial_model).train()
    else:
        model = Classifier(config.findings, config.arch, pre, config.pretrained, config.dropout)
        if config.init:
            copy_trunk(load_checkpoint(config.init), model)
            log(f"trunk initialised from {config.init} (head new)")
    if config.head_epochs and ctx.active:
        raise ConfigError("--head-epochs (a frozen trunk) is single-process only: DDP expects every weight to train")
    pos_weight = positive_weights(dataset.labels[train_idx]) if config.pos_weight else None
    # The weighted loss multiplies the learned odds by pos_weight; its log is taken back off reported probabilities.
    model.set_logit_shift(-torch.log(pos_weight) if pos_weight is not None else None)
    model.to(ctx.device)
    from timm.utils import ModelEmaV3

    ema = ModelEmaV3(model, decay=config.ema_decay, use_warmup=True) if config.ema_decay > 0 else None
    loss_fn = MaskedBCEWithLogits(pos_weight).to(ctx.device)
    eval_loss = MaskedBCEWithLogits().to(ctx.device)
    trained = ctx.wrap(model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=config.lr_patience)
    aug = build_augmentation(config.augment, config.image_size, draws) if config.augment else None
    train_ds = CachedImageDataset(cached.images, dataset.labels, train_idx, pre, aug)
    val_loader = _loader(CachedImageDataset(cached.images, dataset.labels, val_idx, pre), 64, False, 0)

    state: dict[str, Any] = {"epoch": -1, "history": [], "best": None, "bad_epochs": 0, "step": 0}
    last_path = out / "last.pt"
    if resume and last_path.exists():
        state = _restore(last_path, config, model, ema, opt, sched)
        log(f"resuming after epoch {state['epoch'] + 1}")

    for epoch in range(state["epoch"] + 1, config.epochs):
        seed_everything(draws * 1000 + epoch)
        frozen = epoch < config.head_epochs
        model.trunk.requires_grad_(not frozen)
        if aug is not None:
            aug.set_random_seed(draws * 1000 + epoch + 7919 * ctx.rank)
        t0 = time.perf_counter()
        loader = _loader(train_ds, ctx.local_batch(config.batch_size), True, draws * 1000 + epoch,
                         ctx.sampler(train_ds, draws, epoch))
        train_loss, state["step"] = _train_epoch(
            trained, ema, loader, loss_fn, opt, state["step"], progress, f"epoch {epoch + 1}/{config.epochs}", ctx,
            frozen,
        )
        train_seconds = time.perf_counter() - t0
        judged = ema.module if ema is not None else model
        # Rank 0 validates and decides; the other ranks step their scheduler on its loss and stop when it stops.
        val_loss, val_probs, val_labels = (
            _evaluate(judged, val_loader, eval_loss, ctx.device) if ctx.is_main else (0.0, None, None)
        )
        val_loss = ctx.share([val_loss])[0]
        sched.step(val_loss)
        if not ctx.is_main:
            if ctx.share([0.0])[0]:
                break
            continue
        record = _epoch_record(epoch, train_loss, val_loss, val_labels, val_probs, config.findings, opt,
                               train_seconds, len(train_idx), time.perf_counter() - t0)
        state["history"].append(record)
        improved = _better(record, state["best"])
        if improved:
            state["best"], state["bad_epochs"] = record, 0
            save_checkpoint(judged, out / "model.pt", metrics=_best_metrics(record), extra={"config": _plain(config)})
            np.savez(out / "val_predictions.npz", labels=val_labels, probs=val_probs, index=val_idx)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        _save_state(last_path, config, model, ema, opt, sched, state)
        _write_metrics(out, config, state, len(train_idx), len(val_idx), len(cached.errors), blanked)
        remaining = (config.epochs - epoch - 1) * np.mean([h["seconds"] for h in state["history"]])
        log(_epoch_line(record, config.findings, improved, remaining))
        if ctx.share([float(state["bad_epochs"] >= config.early_stop_patience)])[0]:
            log(f"early stop: no validation improvement for {config.early_stop_patience} epochs")
            break
    if ctx.is_main:
        _write_curves(out, state["history"], config.findings)
    ctx.barrier()
    return json.loads((out / "metrics.json").read_text())


def _train_epoch(model, ema, loader, loss_fn, opt, step: int, progress: bool, desc: str,
                 ctx: DistContext = DistContext(), frozen_trunk: bool = False) -> tuple[float, int]:
    """One pass over this process's share of the training set; the mean loss over every process's images.

    ``frozen_trunk`` (the linear-probe epochs of LP-FT): the trunk stays in eval mode, so its batch-norm statistics
    are the pretrained ones and only the head moves.
    """
    model.train()
    raw = getattr(model, "module", model)  # the EMA follows the plain model, not its DDP wrapper
    if frozen_trunk:
        raw.trunk.eval()
    total, n = 0.0, 0
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, file=sys.stderr, unit="batch")
    for x, y in bar:
        x, y = x.to(ctx.device), y.to(ctx.device)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        step += 1
        if ema is not None:
            ema.update(raw, step=step)
        total += float(loss.detach()) * len(x)
        n += len(x)
        bar.set_postfix(loss=f"{total / n:.4f}")
    return ctx.mean(total, n), step


def _epoch_record(epoch, train_loss, val_loss, labels, probs, findings, opt, train_seconds, n_train, seconds):
    aucs = {f: auc(labels[:, j], probs[:, j]) for j, f in enumerate(findings)}
    acc = {f: threshold_metrics(labels[:, j], probs[:, j])["accuracy"] for j, f in enumerate(findings)}
    m = mean_auc(labels, probs)
    return {
        "epoch": epoch + 1,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_auc": aucs,
        "val_accuracy": acc,
        "val_mean_auc": m,
        # Model selection: mean validation AUC; when no finding has both classes, lower loss is better.
        "score": m if not np.isnan(m) else -val_loss,
        "lr": opt.param_groups[0]["lr"],
        "seconds": seconds,
        "train_images_per_s": n_train / max(train_seconds, 1e-9),
    }


def _better(record: dict[str, Any], best: dict[str, Any] | None) -> bool:
    """Higher score wins; a tie (within 1e-4, common when validation AUC saturates) goes to lower val loss."""
    if best is None:
        return True
    if abs(record["score"] - best["score"]) <= 1e-4:
        return record["val_loss"] < best["val_loss"]
    return record["score"] > best["score"]


def _best_metrics(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("epoch", "val_auc", "val_accuracy", "val_mean_auc", "val_loss")}


def _epoch_line(r: dict[str, Any], findings: list[str], improved: bool, remaining_s: float) -> str:
    aucs = " ".join(f"{f}={r['val_auc'][f]:.3f}" for f in findings)
    return (
        f"epoch {r['epoch']}: train_loss={r['train_loss']:.4f} val_loss={r['val_loss']:.4f} val_auc[{aucs}] "
        f"{r['train_images_per_s']:.1f} img/s {r['seconds']:.0f}s{' *best*' if improved else ''} "
        f"ETA {remaining_s / 60:.1f} min"
    )


def _plain(config: TrainConfig) -> dict[str, Any]:
    d = asdict(config)
    d["augment"], d["within_source"] = list(d["augment"]), list(d["within_source"])
    return d


def _save_state(path: Path, config, model, ema, opt, sched, state) -> None:
    atomic_torch_save(
        {
            "config": _plain(config),
            "model": model.state_dict(),
            "ema": ema.module.state_dict() if ema is not None else None,
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "state": state,
        },
        path,
    )


def _restore(path: Path, config, model, ema, opt, sched) -> dict[str, Any]:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    ours = _plain(config)
    keys = ("findings", "arch", "image_size", "batch_size", "seed", "run_seed")
    changed = [k for k in keys if saved["config"].get(k) != ours.get(k)]
    if changed:
        raise ConfigError(f"{path}: cannot resume, the run used different {', '.join(changed)}")
    model.load_state_dict(saved["model"])
    if ema is not None and saved["ema"] is not None:
        ema.module.load_state_dict(saved["ema"])
    opt.load_state_dict(saved["optimizer"])
    sched.load_state_dict(saved["scheduler"])
    return saved["state"]


def _write_metrics(out: Path, config, state, n_train: int, n_val: int, n_skipped: int,
                   blanked: dict[str, list[str]]) -> None:
    payload = {
        "config": _plain(config),
        "n_train": n_train,
        "n_val": n_val,
        "n_skipped_images": n_skipped,
        "within_source_blanked": blanked,  # finding -> sources whose labels were blanked (config.within_source)
        "best": state["best"],
        "history": state["history"],
    }
    atomic_write_text(json.dumps(payload, indent=2, default=float), out / "metrics.json")


def _write_curves(out: Path, history: list[dict[str, Any]], findings: list[str]) -> None:
    """loss_curve.png (train/val loss and val AUC per epoch) and roc_val.png (the best model on validation)."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [h["train_loss"] for h in history], label="train")
    a.plot(epochs, [h["val_loss"] for h in history], label="validation")
    a.set(xlabel="epoch", ylabel="loss", title="Loss")
    a.legend()
    for f in findings:
        b.plot(epochs, [h["val_auc"][f] for h in history], label=f)
    b.set(xlabel="epoch", ylabel="AUC", title="Validation AUC", ylim=(0.4, 1.0))
    b.legend()
    fig.tight_layout()
    fig.savefig(out / "loss_curve.png", dpi=110)
    plt.close(fig)
    preds = out / "val_predictions.npz"
    if preds.exists():
        data = np.load(preds)
        plot_roc(data["labels"], data["probs"], findings, str(out / "roc_val.png"), "Validation ROC (best model)")
