"""An example user policy: keep the frames the classifier is most confident about.

A selection policy is any object with

* ``name``: a short name for tables and plots;
* ``uses_label``: ``True`` only if the policy reads the true label (an oracle);
* ``scores(obs, info=None) -> (B, T)``: one importance score per frame, higher = keep.

``obs`` is a batch of the env's observations: ``obs["predictions"]`` holds the frozen classifier's
per-frame class probabilities (B, T, C) and ``obs["features"]`` its per-frame features (B, T, D).
The evaluation keeps the top-m frames by score (for every m it reports) with the same rule as for
every other agent, so a policy only ranks frames.

This one ranks frames by their *margin*: the probability of the frame's top class minus that of
its runner-up. A frame that is sure about one class (large margin) is kept before an ambiguous one.
(The built-in ``confidence`` baseline uses the top probability alone.)

Compare it with the built-in agents::

    python scripts/compare_agents.py --agents random uniform confidence oracle \
        examples/confident_policy.py:ConfidentPolicy --seeds 3 --out runs/compare

or act with it in the env::

    import gymnasium as gym
    import frame_select_env  # noqa: F401  (registers FrameSelection-v0)
    from frame_select_env.core.policy import ActionAdapter
    from examples.confident_policy import ConfidentPolicy

    env = gym.make("FrameSelection-v0", split="test")
    act = ActionAdapter(ConfidentPolicy(), m=8)   # scores -> keep the top 8 frames
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(act(obs, info))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class ConfidentPolicy:
    """Keeps the frames with the largest top-1 minus top-2 probability margin.

    :param name: name shown in tables and plots.
    """

    uses_label = False  # it never looks at info["label"]

    def __init__(self, name: str = "confident-margin") -> None:
        self.name = name

    def scores(self, obs: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None
               ) -> np.ndarray:
        """Per-frame margin between the two most likely classes.

        :param obs: ``{"predictions": (B, T, C), ...}``.
        :param info: per-video extras (unused).
        :return: (B, T) scores in [0, 1].
        """
        if "predictions" not in obs:
            raise ValueError("ConfidentPolicy needs obs['predictions'] (use state='both' or "
                             "state='predictions')")
        probs = np.asarray(obs["predictions"], dtype=np.float32)
        if probs.shape[-1] < 2:
            return probs[..., 0]
        # np.partition puts the two largest values in the last two slots (in order).
        top2 = np.partition(probs, probs.shape[-1] - 2, axis=-1)[..., -2:]
        return top2[..., 1] - top2[..., 0]
