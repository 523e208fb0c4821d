"""A linear classifier head CL fitted on frame features, for stores imported without logits.

The paper's prediction state is s^r_t = CL(s^f_t), a linear layer on the frame feature. When a
user brings features only, :func:`fit_head` fits that layer per stream on the train split the
way TSN trains it: per-frame logits ``W x_t + b``, averaged over the frames (and crops) of a
video (segment consensus), then softmax cross-entropy on the video label. Because the layer is
linear, the consensus of per-frame logits equals the layer applied to the mean feature, so the
fit is a multinomial logistic regression on mean-pooled features (full batch, L-BFGS), and
the stored per-frame logits are the same layer applied to each frame.

Heads are saved as ``{stream: {"weight": (C, D), "bias": (C,)}}`` tensors (:func:`save_heads`),
read back with ``torch.load(weights_only=True)`` (:func:`load_heads`), which also accepts one
plain ``{"weight", "bias"}`` state dict (e.g. a ``torch.nn.Linear``'s) for a single stream.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from frame_select_env.pipeline.models.weights import load_torch_file
from frame_select_env.store.atomic import atomic_torch_save


@dataclass
class HeadFit:
    """A fitted (or given) linear head and how well it classifies.

    :param weight: (C, D).
    :param bias: (C,).
    :param train_accuracy: top-1 video accuracy on the train split (consensus of frame logits).
    :param val_accuracy: the same on the early-stopping videos (``nan`` when there were none).
    :param rounds: L-BFGS rounds run before early stopping kept the best one.
    """

    weight: np.ndarray
    bias: np.ndarray
    train_accuracy: float
    val_accuracy: float
    rounds: int


def pooled(features: np.ndarray) -> np.ndarray:
    """Mean feature of each video over frames and crops: (N, T, V, D) -> (N, D) float64."""
    return features.reshape(features.shape[0], -1, features.shape[-1]).mean(axis=1,
                                                                             dtype=np.float64)


def apply_head(weight: np.ndarray, bias: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Per-frame, per-crop logits ``W x + b``: (N, T, V, D) -> (N, T, V, C) float32.

    :param weight: (C, D).
    :param bias: (C,).
    :param features: the frame features.
    """
    out = np.asarray(features, np.float32) @ np.asarray(weight, np.float32).T
    return out + np.asarray(bias, np.float32)


def _accuracy(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    if len(y) == 0:
        return float("nan")
    with torch.no_grad():
        return float(((x @ weight.T + bias).argmax(1) == y).double().mean())


def fit_head(train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray,
             val_labels: np.ndarray, num_classes: int, *, seed: int = 0,
             weight_decay: float = 1e-4, max_rounds: int = 100, patience: int = 5,
             steps_per_round: int = 20) -> HeadFit:
    """Fit CL on frame features with TSN's segment consensus; early stopping on ``val``.

    :param train_features: (N, T, V, D) frame features of the train videos.
    :param train_labels: (N,) their labels.
    :param val_features: (M, T, V, D) of the early-stopping videos (M may be 0: no stopping).
    :param val_labels: (M,).
    :param num_classes: C.
    :param seed: the initial weights' seed (the fit is deterministic given it).
    :param weight_decay: L2 penalty on the weights (``weight_decay * |W|^2``, mean loss).
    :param max_rounds: at most this many rounds of ``steps_per_round`` L-BFGS iterations.
    :param patience: stop after this many rounds without a lower validation loss.
    :param steps_per_round: L-BFGS iterations per round.
    :return: the weights of the round with the lowest validation loss, and the accuracies.
    """
    if len(train_labels) == 0:
        raise ValueError("fit_head: no train videos to fit the classifier head on")
    x = torch.from_numpy(pooled(train_features))
    y = torch.from_numpy(np.asarray(train_labels, np.int64))
    xv = torch.from_numpy(pooled(val_features)) if len(val_labels) else x[:0]
    yv = torch.from_numpy(np.asarray(val_labels, np.int64))
    gen = torch.Generator().manual_seed(seed)
    weight = (0.01 * torch.randn(num_classes, x.shape[1], generator=gen,
                                 dtype=torch.float64)).requires_grad_()
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=steps_per_round,
                            line_search_fn="strong_wolfe")
    ce = torch.nn.functional.cross_entropy

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ce(x @ weight.T + bias, y) + weight_decay * (weight ** 2).sum()
        loss.backward()
        return loss

    best = (float("inf"), weight.detach().clone(), bias.detach().clone(), 0)
    stale = 0
    threads = torch.get_num_threads()
    # one thread: on these small full-batch products more threads only wait on each other
    # (measured 0.13 s with 1 thread vs 0.7-6.5 s with 16 on a busy 2-core machine)
    torch.set_num_threads(1)
    try:
        for rounds in range(1, max_rounds + 1):
            before = float(opt.step(closure).detach())
            with torch.no_grad():
                watch = (ce(xv @ weight.T + bias, yv) if len(yv)
                         else ce(x @ weight.T + bias, y) + weight_decay * (weight ** 2).sum())
            if float(watch) < best[0] - 1e-7:
                best, stale = (float(watch), weight.detach().clone(), bias.detach().clone(),
                               rounds), 0
            else:
                stale += 1
            # without validation videos the fit stops when the training loss no longer moves
            if stale >= patience or (not len(yv) and abs(before - float(watch)) < 1e-9):
                break
    finally:
        torch.set_num_threads(threads)
    _, w, b, kept = best
    return HeadFit(w.numpy().astype(np.float32), b.numpy().astype(np.float32),
                   _accuracy(w, b, x, y), _accuracy(w, b, xv, yv), kept)


def save_heads(path: str | os.PathLike, heads: Mapping[str, HeadFit]) -> Path:
    """Save ``{stream: {"weight", "bias"}}`` tensors atomically (read with :func:`load_heads`)."""
    return atomic_torch_save({s: {"weight": torch.from_numpy(h.weight),
                                  "bias": torch.from_numpy(h.bias)} for s, h in heads.items()},
                             path)


def load_heads(path: str | os.PathLike, streams: Sequence[str],
               dims: Mapping[str, int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Heads for ``streams`` from a file (``torch.load(weights_only=True)``), checked.

    :param path: ``{stream: {"weight", "bias"}}`` or, for a single stream, ``{"weight", "bias"}``.
    :param streams: the streams that need a head.
    :param dims: stream -> feature size D the weights must match.
    :return: stream -> (weight (C, D), bias (C,)) float32.
    :raises ValueError: naming the file and what is missing or of the wrong shape.
    """
    obj = load_torch_file(path, "classifier head")
    where = f"classifier head {os.fspath(path)!r}"
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where}: expected a dict of tensors, got {type(obj).__name__}")
    if "weight" in obj and "bias" in obj:
        if len(streams) != 1:
            raise ValueError(f"{where} holds one head (weight, bias) but streams {list(streams)} "
                             f"need one each; save {{stream: {{'weight', 'bias'}}}}")
        obj = {streams[0]: obj}
    out = {}
    for s in streams:
        head = obj.get(s)
        if not isinstance(head, Mapping) or "weight" not in head or "bias" not in head:
            raise ValueError(f"{where} has no head for stream {s!r} (it has {sorted(obj)}; each "
                             f"is a dict with 'weight' (C, D) and 'bias' (C,))")
        w = np.asarray(head["weight"], np.float32)
        b = np.asarray(head["bias"], np.float32)
        if w.ndim != 2 or w.shape[1] != dims[s] or b.shape != (w.shape[0],):
            raise ValueError(f"{where}: stream {s!r} weight {w.shape} and bias {b.shape} do not "
                             f"fit features of size {dims[s]} (expected (C, {dims[s]}) and (C,))")
        out[s] = (w, b)
    return out
