"""The numbers that define the built-in dataset's difficulty, measured on a feature store.

:func:`measure_store` compares, per stream and fused, the all-frames average with an oracle on
the relevant frames, random frames, the most confident frames and the top frames of a
relevance probe (:func:`fit_relevance_probe`, a logistic regression on the per-frame states).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from frame_select_env.core.constants import STREAMS

#: frame budgets reported by :func:`measure_store`
MEASURE_M: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20)


def _states(store: Any, stream: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame, per-view states ``[features, probabilities]`` (B, T, V, D + C) and probs."""
    from frame_select_env.core.selection import softmax

    feats = store.features(stream, idx).astype(np.float64)
    probs = softmax(store.logits(stream, idx)).astype(np.float64)
    return np.concatenate([feats, probs], -1), probs


def fit_relevance_probe(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 25
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L2-regularised logistic regression (Newton's method, float64, deterministic).

    :param x: ``(n, k)`` inputs
    :param y: ``(n,)`` 0/1 targets
    :param l2: ridge penalty on the (standardised) weights
    :param iters: Newton steps
    :return: ``(mean, std, weights (k + 1,))``; score = ``[(x - mean) / std, 1] @ weights``
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], 1)
    w = np.zeros(z.shape[1])
    reg = l2 * len(x) * np.eye(z.shape[1])
    reg[-1, -1] = 0.0  # no penalty on the bias
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + reg @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + reg
        w -= np.linalg.solve(hess, grad)
    return mean, std, w


def probe_scores(x: np.ndarray, probe: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Probe logits of inputs ``x``.

    :param x: ``(..., k)`` inputs
    :param probe: what :func:`fit_relevance_probe` returned
    :return: ``(...)`` logits
    """
    mean, std, w = probe
    return ((x - mean) / std) @ w[:-1] + w[-1]


def measure_store(
    path: str | os.PathLike,
    seed: int = 0,
    num_random: int = 10,
    m_values: Sequence[int] = MEASURE_M,
    random_m: int = 8,
) -> dict:
    """The numbers that define the built-in dataset's difficulty, recomputed from a store.

    For each stream and for the two-stream fusion, on the test split: accuracy of the
    all-frames average, of an oracle averaging only the relevant sampled frames, of ``random_m``
    random frames (mean over ``num_random`` seeds), of the most confident frames, and of the
    top-m frames of a relevance probe (logistic regression on the per-frame, per-view states
    ``[features, probabilities]`` fitted on the train split). Uses the shared
    :mod:`frame_select_env.evaluation` functions.

    :param path: a store with ``relevance``
    :param seed: seed of the random selections
    :param num_random: number of random selections averaged
    :param m_values: frame budgets of the probe / confidence curves
    :param random_m: frame budget of the random baseline
    :return: nested dict of accuracies (percent) and diagnostics
    """
    from frame_select_env.core.metrics import accuracy
    from frame_select_env.core.selection import (
        aggregate_predictions,
        fuse_streams,
        select_frames,
        topm_mask,
    )
    from frame_select_env.store import FeatureStore

    store = FeatureStore(path)
    tr, te = store.indices("train"), store.indices("test")
    rel_tr = store.relevance(tr)
    rel_te = store.relevance(te)
    if rel_tr is None or rel_te is None:
        raise ValueError(f"measure_store({path}): the store has no relevance")
    rel_tr, rel_te = rel_tr.astype(bool), rel_te.astype(bool)
    y_tr, y_te = store.labels[tr], store.labels[te]
    streams = [s for s in STREAMS if s in store.streams]
    b, t = rel_te.shape
    rng = np.random.default_rng(seed)
    rand_masks = [topm_mask(rng.random((b, t)), random_m) for _ in range(num_random)]

    def bcast(mask2d: np.ndarray, v: int) -> np.ndarray:
        return np.broadcast_to(mask2d[..., None], (*mask2d.shape, v))

    video: dict[str, dict[str, np.ndarray]] = {}  # method -> stream -> (B, C)
    out: dict = {"num_test": int(b), "num_train": int(len(tr)), "num_frames": int(t),
                 "relevant_fraction_test": float(rel_te.mean()),
                 "min_relevant_frames_test": int(rel_te.sum(1).min()),
                 "random_m": random_m, "num_random": num_random, "streams": {}}
    for s in streams:
        x_tr, p_tr = _states(store, s, tr)
        x_te, p_te = _states(store, s, te)
        v = p_te.shape[2]
        # Relevance probe: one sample per (video, frame, view) of the train split.
        probe = fit_relevance_probe(
            x_tr.reshape(-1, x_tr.shape[-1]), bcast(rel_tr, v).reshape(-1)
        )
        imp = probe_scores(x_te, probe)  # (B, T, V)
        conf = p_te.max(-1)
        res: dict[str, Any] = {
            "all_frames": accuracy(aggregate_predictions(p_te), y_te),
            "oracle_relevant": accuracy(aggregate_predictions(p_te, bcast(rel_te, v)), y_te),
            f"random_m{random_m}": float(np.mean(
                [accuracy(aggregate_predictions(p_te, bcast(mk, v)), y_te) for mk in rand_masks]
            )),
            "train_all_frames": accuracy(aggregate_predictions(p_tr), y_tr),
        }
        curves: dict[str, dict[int, float]] = {
            "probe_frame": {}, "probe_region": {}, "confidence_frame": {}
        }
        for m in m_values:
            curves["probe_frame"][m] = accuracy(
                aggregate_predictions(p_te, select_frames(imp, m, "frame")), y_te)
            curves["probe_region"][m] = accuracy(
                aggregate_predictions(p_te, select_frames(imp, m, "region")), y_te)
            curves["confidence_frame"][m] = accuracy(
                aggregate_predictions(p_te, select_frames(conf, m, "frame")), y_te)
        for name, c in curves.items():
            best = max(c, key=lambda k: (c[k], -k))
            res[f"{name}_best"] = {"m": int(best), "acc": c[best]}
            res[name] = {str(k): val for k, val in c.items()}
        # Per-frame diagnostics (centre view): is the classifier right / confident where the
        # action is, and how confident are the train states the agent learns from?
        for split, p, rel, y in (("train", p_tr, rel_tr, y_tr), ("test", p_te, rel_te, y_te)):
            right = p[:, :, 0].argmax(-1) == y[:, None]
            mx = p[:, :, 0].max(-1)
            res[f"{split}_frame_acc_relevant"] = float(100 * right[rel].mean())
            res[f"{split}_frame_acc_irrelevant"] = float(100 * right[~rel].mean())
            res[f"{split}_maxprob_relevant"] = float(mx[rel].mean())
            res[f"{split}_maxprob_irrelevant"] = float(mx[~rel].mean())
        out["streams"][s] = res
        video.setdefault("all", {})[s] = aggregate_predictions(p_te)
        video.setdefault("oracle", {})[s] = aggregate_predictions(p_te, bcast(rel_te, v))
        for k, mk in enumerate(rand_masks):
            video.setdefault(f"rand{k}", {})[s] = aggregate_predictions(p_te, bcast(mk, v))
        for m in m_values:
            video.setdefault(f"probe{m}", {})[s] = aggregate_predictions(
                p_te, select_frames(imp, m, "frame"))
    if len(streams) == 2:
        fused: dict[str, Any] = {
            "all_frames": accuracy(fuse_streams(video["all"]), y_te),
            "oracle_relevant": accuracy(fuse_streams(video["oracle"]), y_te),
            f"random_m{random_m}": float(np.mean(
                [accuracy(fuse_streams(video[f"rand{k}"]), y_te) for k in range(num_random)]
            )),
        }
        c = {m: accuracy(fuse_streams(video[f"probe{m}"]), y_te) for m in m_values}
        best = max(c, key=lambda k: (c[k], -k))
        fused["probe_frame"] = {str(k): val for k, val in c.items()}
        fused["probe_frame_best"] = {"m": int(best), "acc": c[best]}
        out["streams"]["fused"] = fused
    return out
