"""Sequential comparators for ``FrameSelectionSeq-v0``: cheap baselines and an upper bound.

They follow :class:`frame_select_env.core.policy.SequentialPolicy`. Each one chooses, per
still-running episode, the next frame whose expensive stream (flow) to pay for, or stops
(action T). The env pays the cheap stream (rgb) on all T frames at reset, whatever the policy
does.

======================  ==========================================================  ==========
class                   pays flow for                                               uses label
======================  ==========================================================  ==========
``SeqRandomPolicy``     random unpaid frames, up to the budget (own generator)      no
``SeqUniformPolicy``    the budget's evenly spaced frames (TSN segment centres)     no
``SeqConfidencePolicy`` the unpaid frame with the highest cheap max-probability     no
``SeqStopPolicy``       nothing: stops at once (the cheap stream alone)             no
``SeqRelevanceOracle``  the ground-truth relevant frames, up to the budget          **yes**
======================  ==========================================================  ==========

The budget is the most frames paid; each policy stops by itself when it is spent and also sets
``env_kwargs = {"max_frames": budget}``, so the sequential evaluation
(:func:`frame_select_env.evaluation.sequential.evaluate_sequential`) builds its env with that
budget and reports it as the rows' ``m``. None of them has its own compute (no
``macs_per_decision``): like the one-step rules they are free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from baselines_zoo.policies import OwnGenerator, UniformPolicy
from frame_select_env.core.sampling import segment_centres

Observation = Mapping[str, np.ndarray]


def _check_budget(budget: Any, who: str) -> int:
    """``budget`` as an int >= 1; a ValueError naming the policy otherwise."""
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"{who}: budget must be an int >= 1 (the most frames paid), got "
                         f"{budget!r}")
    return int(budget)


def _paid(obs: Observation, action_masks: np.ndarray, who: str) -> np.ndarray:
    """(B, T) bool of the paid frames (``obs["paid"]``, else the masked actions)."""
    masks = np.asarray(action_masks, bool)
    if masks.ndim != 2 or masks.shape[1] < 2:
        raise ValueError(f"policy {who!r}: action_masks must be (B, T + 1), got {masks.shape}")
    if "paid" in obs:
        return np.asarray(obs["paid"]) > 0.5
    return ~masks[:, :-1]


def _best_unpaid(scores: np.ndarray, paid: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Per episode the unpaid frame of highest score, or stop (T) where ``done`` or all paid.

    Ties go to the earlier frame (``argmax``), as in the one-step top-m rule.
    """
    t = paid.shape[1]
    masked = np.where(paid, -np.inf, scores.astype(np.float64))
    best = masked.argmax(-1)
    stop = done | paid.all(-1)
    return np.where(stop, t, best).astype(np.int64)


class _BudgetPolicy:
    """Base class: a name, a budget of paid frames and the env options it implies.

    :param budget: the most frames paid (the env's ``max_frames``).
    :param name: display name.
    """

    uses_label = False

    def __init__(self, budget: int, name: str) -> None:
        self.budget = _check_budget(budget, type(self).__name__)
        self.name = name
        self.env_kwargs: dict[str, Any] = {"max_frames": self.budget}

    def _done(self, paid: np.ndarray) -> np.ndarray:
        """(B,) True where the budget is spent."""
        return np.asarray(paid.sum(-1) >= self.budget)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(budget={self.budget}, name={self.name!r})"


class SeqRandomPolicy(OwnGenerator, _BudgetPolicy):
    """Pays random unpaid frames until its budget is spent, then stops.

    The frames come from the policy's own generator
    (:class:`~baselines_zoo.policies.OwnGenerator`).

    :param budget: the most frames paid.
    :param seed: seed of the generator.
    :param name: display name.
    """

    def __init__(self, budget: int, seed: int | None = 0, name: str = "seq-random") -> None:
        super().__init__(budget, name)
        self.start_generator(seed)

    def act(self, obs: Observation, action_masks: np.ndarray) -> np.ndarray:
        """A uniformly random unpaid frame per episode, or stop once the budget is spent.

        :param obs: the batched observation; only ``paid`` is read.
        :param action_masks: (B, T + 1) bool, the unpaid frames and stop.
        :return: (B,) actions in ``[0, T]``.
        """
        paid = _paid(obs, action_masks, self.name)
        # i.i.d. uniform scores: the best unpaid one is a uniformly random unpaid frame
        return _best_unpaid(self.rng.random(paid.shape), paid, self._done(paid))


class SeqUniformPolicy(_BudgetPolicy):
    """Pays the budget's evenly spaced frames (TSN segment centres), in time order, then stops.

    With ``budget`` m it pays the same frames as the one-step ``uniform`` baseline at m, so the
    two differ only in the cost of the cheap stream (computed here on all T frames).

    :param budget: the most frames paid (m segments).
    :param name: display name.
    """

    def __init__(self, budget: int, name: str = "seq-uniform") -> None:
        super().__init__(budget, name)

    def frames(self, num_frames: int) -> np.ndarray:
        """The frames paid, in order: the segment centres of ``min(budget, T)`` segments.

        :param num_frames: T.
        :return: increasing int64 frame indices.
        """
        return segment_centres(num_frames, min(self.budget, num_frames))

    def act(self, obs: Observation, action_masks: np.ndarray) -> np.ndarray:
        """The first segment centre not paid yet per episode, or stop when all are paid.

        :param obs: the batched observation; only ``paid`` is read.
        :param action_masks: (B, T + 1) bool, the unpaid frames and stop.
        :return: (B,) actions in ``[0, T]``.
        """
        paid = _paid(obs, action_masks, self.name)
        t = paid.shape[1]
        wanted = np.zeros(t, bool)
        wanted[self.frames(t)] = True
        # the earliest wanted frame first: score T - i for a wanted frame i, -1 for the others
        scores = np.where(wanted, t - np.arange(t), -1.0)[None].repeat(len(paid), 0)
        left = (wanted[None] & ~paid).any(-1)
        return _best_unpaid(scores, paid, self._done(paid) | ~left)


class SeqConfidencePolicy(_BudgetPolicy):
    """Pays flow for the unpaid frame the cheap stream (rgb) is most sure about, up to the budget.

    The one-step ``confidence_rgb`` made sequential: a frame's confidence is its largest cheap
    class probability (``obs["cheap_predictions"]``, the crops averaged with ``view="mean"``).

    :param budget: the most frames paid.
    :param name: display name.
    """

    def __init__(self, budget: int, name: str = "seq-confidence") -> None:
        super().__init__(budget, name)

    def act(self, obs: Observation, action_masks: np.ndarray) -> np.ndarray:
        """The unpaid frame with the highest cheap max-probability, or stop at the budget.

        :param obs: the batched observation with ``cheap_predictions`` (B, T, C).
        :param action_masks: (B, T + 1) bool, the unpaid frames and stop.
        :return: (B,) actions in ``[0, T]``.
        :raises ValueError: the observation has no ``cheap_predictions``.
        """
        if "cheap_predictions" not in obs:
            raise ValueError(f"policy {self.name!r} needs obs['cheap_predictions']; the "
                             f"observation has only {sorted(obs)} (use state='both' or "
                             f"'predictions')")
        paid = _paid(obs, action_masks, self.name)
        confidence = np.asarray(obs["cheap_predictions"], np.float32).max(-1)
        return _best_unpaid(confidence, paid, self._done(paid))


class SeqStopPolicy:
    """Stops at once: the cheap stream alone, on all T frames (no flow at all).

    :param name: display name.
    """

    uses_label = False

    def __init__(self, name: str = "seq-stop") -> None:
        self.name = name

    def act(self, obs: Observation, action_masks: np.ndarray) -> np.ndarray:
        """Stop (action T) for every episode.

        :param obs: the batched observation (unused).
        :param action_masks: (B, T + 1) bool; its shape gives B and T.
        :return: (B,) actions, all T.
        """
        masks = np.asarray(action_masks)
        return np.full(masks.shape[0], masks.shape[1] - 1, np.int64)

    def __repr__(self) -> str:
        return f"SeqStopPolicy(name={self.name!r})"


class SeqRelevanceOracle(_BudgetPolicy):
    """Pays the frames the store marks as showing the action, up to the budget: an upper bound.

    The observation does not carry the ground truth, so ``act`` takes ``info`` with
    ``relevance`` (B, T) of the same episodes; the sequential evaluation passes it to policies
    whose ``act`` accepts ``info`` (as :func:`frame_select_env.core.policy.policy_scores` does for
    one-step oracles). Relevant frames are paid in the nested evenly spread order (as the
    one-step ``relevance-oracle`` breaks ties), so they cover the action; once no relevant frame
    is left unpaid it stops rather than pay for frames without the action.
    ``uses_label = True``: not a deployable policy.

    :param budget: the most frames paid.
    :param name: display name.
    """

    uses_label = True

    def __init__(self, budget: int, name: str = "seq-oracle") -> None:
        super().__init__(budget, name)

    def act(self, obs: Observation, action_masks: np.ndarray,
            info: Mapping[str, Any] | None = None) -> np.ndarray:
        """The next relevant unpaid frame per episode, or stop.

        :param obs: the batched observation; only ``paid`` is read.
        :param action_masks: (B, T + 1) bool, the unpaid frames and stop.
        :param info: must hold ``relevance`` (B, T) of these episodes.
        :return: (B,) actions in ``[0, T]``.
        :raises ValueError: ``info`` has no ``relevance`` or one of another shape.
        """
        paid = _paid(obs, action_masks, self.name)
        if info is None or info.get("relevance") is None:
            raise ValueError(f"policy {self.name!r} needs info['relevance'] (per-frame "
                             f"ground-truth relevance); the store must record it and the "
                             f"evaluation pass it")
        rel = np.asarray(info["relevance"]).astype(bool)
        if rel.shape != paid.shape:
            raise ValueError(f"policy {self.name!r}: info['relevance'] has shape {rel.shape}, "
                             f"expected (B, T) = {paid.shape}")
        t = paid.shape[1]
        tie = UniformPolicy().frame_scores(t) / (t + 1)  # in (0, 1): never outranks relevance
        left = (rel & ~paid).any(-1)
        return _best_unpaid(rel + tie[None], paid, self._done(paid) | ~left)


#: The built-in sequential comparators by spec name (:mod:`baselines_zoo.registry`).
SEQ_BUILTIN = ("seq-random", "seq-uniform", "seq-confidence", "seq-stop", "seq-oracle")


def make_seq_policies(name: str, budgets: list[int] | tuple[int, ...], seed: int = 0
                      ) -> list[Any]:
    """The built-in sequential comparator ``name``, one per budget (``seq-stop``: one).

    :param name: one of :data:`SEQ_BUILTIN`.
    :param budgets: the budgets (most frames paid).
    :param seed: seed of ``seq-random``.
    :return: the policies, named ``name``.
    :raises ValueError: an unknown name, or no budget for a policy that needs one.
    """
    if name not in SEQ_BUILTIN:
        raise ValueError(f"unknown sequential comparator {name!r}; choose from {SEQ_BUILTIN}")
    if name == "seq-stop":
        return [SeqStopPolicy(name=name)]
    if not budgets:
        raise ValueError(f"{name} needs at least one budget (the most frames paid)")
    out: list[Any] = []
    for b in budgets:
        if name == "seq-random":
            out.append(SeqRandomPolicy(b, seed=seed, name=name))
        elif name == "seq-uniform":
            out.append(SeqUniformPolicy(b, name=name))
        elif name == "seq-confidence":
            out.append(SeqConfidencePolicy(b, name=name))
        else:
            out.append(SeqRelevanceOracle(b, name=name))
    return out


__all__ = [
    "SEQ_BUILTIN", "SeqConfidencePolicy", "SeqRandomPolicy", "SeqRelevanceOracle",
    "SeqStopPolicy", "SeqUniformPolicy", "make_seq_policies",
]
