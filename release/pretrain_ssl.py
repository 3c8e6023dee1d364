"""Self-supervised pretraining (SimCLR or MoCo v2) of the DenseNet trunk on the radiographs themselves, for ``--init``.

    nice -n 10 python release/pretrain_ssl.py --minutes 45 --out runs/ssl   # or --steps N: the same on any machine
    python release/pretrain_ssl.py --resume runs/ssl/ssl.pt --steps 400 --out runs/ssl2   # continue a run
    python release/train_reference.py --epochs 25 --image-size 128 --pos-weight --init runs/ssl/ssl.pt \
        --out runs/nih-ssl --results release/results/train_nih_ssl_init.md

Why: no ImageNet weights can be downloaded here and 646 labelled adult images are few; the issue suggests learning
features from the unlabelled images first. SimCLR (Chen et al. 2020): two augmented views of each image, a small
projection head, and the NT-Xent loss pulling the two views together against the rest of the batch; afterwards the
head is dropped and the trunk starts a supervised run (``copy_trunk``). Views: random resized crop (scale 0.5-1),
rotation +-10 degrees, brightness/contrast +-0.4, blur, horizontal flip, as MoCo-CXR (Sowrirajan et al. 2021) chose
for radiographs (no colour jitter: they are grey).

``--method moco`` (MoCo v2, He et al. 2020 / Chen et al. 2020, as MoCo-CXR used): the same views and head, but
each view is contrasted with a queue of the last ``--queue`` keys from a momentum copy of trunk and head instead of
the other 2B-2 views of its own batch. Why: SimCLR needs large batches for enough negatives, and 2 CPU cores
afford 64 images per step; the queue gives 4,096 negatives at the cost of one extra forward pass without gradients.

Images: all of ``../shared/kermany`` and the NIH development patients of ``train_reference.py``'s split (seed 0,
20% test patients): the test patients' images are never seen, not even unlabelled. ``--sources nih`` (or
``kermany``) keeps one of the two. The checkpoint is a chestxai
checkpoint with one placeholder finding (``ssl``), so ``--init`` reads it like any other.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def unlabelled_images(size: int, test_fraction: float, seed: int, sources: tuple[str, ...] = ("nih", "kermany")) -> np.ndarray:
    """uint8 ``[N, size, size]``: the images of ``sources``: every Kermany image, the NIH images outside
    ``train_reference``'s test split, or both.

    ``sources`` picks either or both: 3,331 of the 4,093 are children's images, so whether the adult images alone
    make a better trunk for adult findings is a question ``--sources nih`` answers.
    """
    from chestxai.data.cache import cache_images
    from chestxai.data.datasets import load_dataset
    from chestxai.data.preprocess import Preprocess
    from chestxai.data.split import holdout_split

    pre = Preprocess(size)
    nih = load_dataset(str(SHARED / "data"), findings=["effusion", "pneumonia", "normal"])
    chosen = {"nih": lambda: holdout_split(nih, test_fraction, seed)[0],
              "kermany": lambda: load_dataset(str(SHARED / "kermany"), findings=["pneumonia"])}
    arrays = []
    for ds in (chosen[name]() for name in sources):
        cached = cache_images(ds, pre)
        arrays.append(np.asarray(cached.images)[cached.valid])
    return np.concatenate(arrays)


def view_transform(size: int, seed: int) -> A.Compose:
    """One random view of a radiograph (see the module docstring); seeded, so a ``--steps`` run can be repeated."""
    border = {"border_mode": cv2.BORDER_CONSTANT, "fill": 0}
    return A.Compose([
        A.RandomResizedCrop(size=(size, size), scale=(0.5, 1.0), ratio=(0.8, 1.25)),
        A.HorizontalFlip(p=0.5),
        A.Rotate(limit=10, p=0.5, **border),
        A.RandomBrightnessContrast(brightness_limit=0.4, contrast_limit=0.4, p=0.8),
        A.GaussianBlur(blur_limit=(3, 5), p=0.3),
    ], seed=seed)


def nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss for ``z`` = [view 1 of the batch; view 2 of the batch]: each view's positive is its twin,
    the other 2N-2 embeddings are its negatives (cross-entropy over cosine similarities / temperature)."""
    z = F.normalize(z, dim=1)
    n = z.shape[0] // 2
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


class MoCo(nn.Module):
    """MoCo v2's momentum encoder (a copy of trunk and head, moved towards them after each step) and key queue.

    Loss, symmetrised over the two views: each view's query is pulled to the other view's key and pushed from
    the queue (cross-entropy over [positive, queue] cosine similarities / temperature); the keys then enter the
    queue, oldest out. Batch norm runs in training mode on the key batch too (one device: no shuffled BN).
    """

    def __init__(self, model, proj: nn.Module, queue: int, momentum: float, temperature: float, dim: int = 128):
        super().__init__()
        self.sync(model, proj)
        self.momentum, self.temperature = momentum, temperature
        self.register_buffer("queue", F.normalize(torch.randn(queue, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    def sync(self, model, proj: nn.Module) -> None:
        """Key encoder := a frozen copy of the query encoder (at the start, and when resuming a run that kept none)."""
        self.key_model, self.key_proj = copy.deepcopy(model), copy.deepcopy(proj)
        for p in [*self.key_model.parameters(), *self.key_proj.parameters()]:
            p.requires_grad_(False)

    @torch.no_grad()
    def _keys(self, model, proj: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Move the key encoder towards the query encoder, then embed ``x`` with it (L2-normalised)."""
        pairs = [*zip(self.key_model.parameters(), model.parameters()),
                 *zip(self.key_proj.parameters(), proj.parameters())]
        for key, query in pairs:
            key.mul_(self.momentum).add_(query.detach(), alpha=1 - self.momentum)
        return F.normalize(self.key_proj(self.key_model.features(x)), dim=1)

    def loss(self, model, proj: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``x`` = [view 1 of the batch; view 2 of the batch] (as ``nt_xent``)."""
        q = F.normalize(proj(model.features(x)), dim=1)
        k = self._keys(model, proj, x)
        n = x.shape[0] // 2
        k = torch.cat([k[n:], k[:n]])  # each query's positive: the key of its twin view
        negatives = self.queue.clone()  # autograd keeps it for the backward pass; the queue changes below
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ negatives.T], dim=1) / self.temperature
        loss = F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))
        self._enqueue(k[:n])  # one key per image (both views' keys would be near-duplicate negatives)
        return loss

    @torch.no_grad()
    def _enqueue(self, k: torch.Tensor) -> None:
        """Replace the oldest keys by ``k`` (ring buffer)."""
        rows = (self.ptr + torch.arange(len(k))) % len(self.queue)
        self.queue[rows] = k
        self.ptr.copy_((self.ptr + len(k)) % len(self.queue))


def save_state(out: Path, model, proj: nn.Module, opt: torch.optim.Optimizer, steps: int, metrics: dict,
               moco: MoCo | None = None) -> None:
    """``ssl.pt`` (a chestxai checkpoint, for ``--init``) and ``ssl_state.pt`` (head, optimiser and MoCo's momentum
    encoder and queue, for ``--resume``)."""
    from chestxai.models.checkpoint import atomic_torch_save, save_checkpoint

    save_checkpoint(model, out / "ssl.pt", metrics={"ssl_steps": steps, **metrics})
    state = {"steps": steps, "proj": proj.state_dict(), "opt": opt.state_dict()}
    if moco is not None:
        state["moco"] = moco.state_dict()
    atomic_torch_save(state, out / "ssl_state.pt")


def resume(path: str, model, proj: nn.Module, opt: torch.optim.Optimizer, moco: MoCo | None = None
           ) -> tuple[int, dict]:
    """Load a previous run's trunk (and head and optimiser where its ``ssl_state.pt`` exists); return its step count.

    Why: SimCLR's loss was still falling when a wall-time budget ended; continuing costs only the new steps. Without
    the state file (runs before it was saved) the head and the optimiser's moments start afresh, so ``main`` warms
    the learning rate up to keep the new head's first gradients from scrambling the pretrained trunk.
    """
    from chestxai.models.checkpoint import load_checkpoint

    prev = load_checkpoint(path)
    model.trunk.load_state_dict(prev.trunk.state_dict())
    start = int(prev.checkpoint_meta.get("metrics", {}).get("ssl_steps", 0))
    state_file = Path(path).with_name("ssl_state.pt")
    exact = state_file.exists()
    if exact:
        state = torch.load(state_file, weights_only=True)
        proj.load_state_dict(state["proj"])
        opt.load_state_dict(state["opt"])
        start = int(state["steps"])
    if moco is not None:  # a MoCo run's own key encoder and queue; else the loaded trunk's copy, a fresh queue
        if exact and "moco" in state:
            moco.load_state_dict(state["moco"])
        else:
            moco.sync(model, proj)
    info = Path(path).with_name("ssl.json")
    return start, {"checkpoint": str(path), "steps": start, "exact": exact,
                   "summary": json.loads(info.read_text()) if info.exists() else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="densenet121")
    ap.add_argument("--pretrained", default="none", choices=["none", "imagenet"],
                    help="start the trunk from ImageNet weights (domain-adaptive pretraining: ImageNet -> radiographs)")
    ap.add_argument("--image-size", type=int, default=96, help="SSL views' size (the trunk is size-agnostic)")
    ap.add_argument("--batch-size", type=int, default=64, help="images per step (2 views each)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--method", default="simclr", choices=["simclr", "moco"],
                    help="simclr: negatives from the batch; moco: from a queue of momentum-encoder keys")
    ap.add_argument("--queue", type=int, default=4096, help="MoCo: keys in the queue (negatives per view)")
    ap.add_argument("--momentum", type=float, default=0.99, help="MoCo: key encoder's momentum per step")
    ap.add_argument("--minutes", type=float, default=45.0, help="stop after the step that passes this wall time")
    ap.add_argument("--steps", type=int, default=None,
                    help="stop after this many steps instead of --minutes (the same run on any machine)")
    ap.add_argument("--sources", default="nih,kermany",
                    help="unlabelled images to learn from: nih (adult development patients), kermany, or both")
    ap.add_argument("--keep-every", type=int, default=0,
                    help="also keep a copy of the trunk every N steps (ssl_stepN.pt), to probe how it changes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "runs" / "ssl"))
    ap.add_argument("--resume", default=None,
                    help="continue from this ssl.pt (its trunk; its head and optimiser too where ssl_state.pt is beside it)")
    ap.add_argument("--warmup-steps", type=int, default=None,
                    help="linear learning-rate warm-up (default: 20 when resuming without ssl_state.pt, else 0)")
    args = ap.parse_args()

    from chestxai.data.preprocess import Preprocess
    from chestxai.models.checkpoint import save_checkpoint
    from chestxai.models.classifier import Classifier
    from chestxai.models.registry import arch_spec
    from chestxai.train.fit import invoking_command

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    sources = tuple(name.strip() for name in args.sources.split(","))
    if not sources or not set(sources) <= {"nih", "kermany"}:
        ap.error(f"--sources: expected nih, kermany or nih,kermany, got {args.sources!r}")
    images = unlabelled_images(args.image_size, 0.2, 0, sources)
    spec = arch_spec(args.arch)  # the normalisation its ImageNet weights expect, kept by the fine-tune from this trunk
    model = Classifier(["ssl"], arch=args.arch, preprocess=Preprocess(args.image_size, spec.mean, spec.std),
                       pretrained=args.pretrained)
    proj = nn.Sequential(nn.Linear(model.num_features, 512), nn.ReLU(inplace=True), nn.Linear(512, 128))
    params = list(model.trunk.parameters()) + list(proj.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    moco = MoCo(model, proj, args.queue, args.momentum, args.temperature) if args.method == "moco" else None
    start, earlier = resume(args.resume, model, proj, opt, moco) if args.resume else (0, None)
    warmup = args.warmup_steps if args.warmup_steps is not None else (20 if earlier and not earlier["exact"] else 0)
    # A resumed run is seeded by its start too (a fresh run's draws are unchanged), so it can be repeated as well.
    rng = np.random.default_rng([args.seed, start] if start else args.seed)
    aug = view_transform(args.image_size, args.seed + start)
    pre = model.preprocess
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "log.txt").open("a")
    t0, step, history = time.perf_counter(), 0, []
    print(f"{len(images)} unlabelled images at {args.image_size} px; from step {start}", file=log, flush=True)
    model.train()
    while (step < args.steps) if args.steps is not None else (time.perf_counter() - t0 < args.minutes * 60):
        for group in opt.param_groups:
            group["lr"] = args.lr * min(1.0, (step + 1) / warmup) if warmup else args.lr
        idx = rng.choice(len(images), args.batch_size, replace=False)
        views = [aug(image=np.asarray(images[i]))["image"] for i in idx] + \
                [aug(image=np.asarray(images[i]))["image"] for i in idx]
        x = pre.normalise(np.stack(views))  # [2B, 1, S, S] float tensor
        loss = moco.loss(model, proj, x) if moco else nt_xent(proj(model.features(x)), args.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        history.append(loss.item())
        if step % 10 == 0:
            mins = (time.perf_counter() - t0) / 60
            print(f"step {step} ({step * args.batch_size / len(images):.2f} epochs, {mins:.1f} min): "
                  f"loss {np.mean(history[-10:]):.3f}", file=log, flush=True)
        if step % 100 == 0:
            save_state(out, model, proj, opt, start + step, {}, moco)
        if args.keep_every and step % args.keep_every == 0:
            save_checkpoint(model, out / f"ssl_step{start + step}.pt", metrics={"ssl_steps": start + step})
    save_state(out, model, proj, opt, start + step, {"ssl_loss_last10": float(np.mean(history[-10:]))}, moco)
    summary = {"images": len(images), "steps": step, "epochs": step * args.batch_size / len(images),
               "minutes": (time.perf_counter() - t0) / 60, "loss_first10": float(np.mean(history[:10])),
               "loss_last10": float(np.mean(history[-10:])), "args": vars(args), "command": invoking_command(),
               "total_steps": start + step, "resumed_from": earlier}
    (out / "ssl.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary), file=log, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
