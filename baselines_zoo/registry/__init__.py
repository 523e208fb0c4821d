"""Agent specs: the strings ``scripts/compare_agents.py --agents`` accepts.

=================================  ==============================================================
spec                               agent
=================================  ==============================================================
``random`` ``uniform`` ``all``     built-in baselines (:mod:`baselines_zoo.policies`)
``confidence`` ``entropy``
``oracle`` ``relevance-oracle``    upper bounds: they read the label / ground-truth relevance
``as:PATH``                        the paper's agent: a checkpoint of ``agents.as_agent``, a
                                   multi-stream checkpoint, or a run directory holding
                                   ``agent_rgb.pt`` / ``agent_flow.pt`` (or ``agent.pt``);
                                   ``PATH`` may contain ``{stream}``
``ppo:PATH`` ``a2c:PATH``          a Stable-Baselines3 model (``model.zip`` or its run directory;
``sac:PATH`` ``td3:PATH``          a directory may hold ``model_rgb.zip`` / ``model_flow.zip``)
``sb3:PATH``                       same, the algorithm read from the run's ``config.yaml``;
                                   ``PATH`` may contain ``{stream}`` (one run per stream)
``scsampler`` ``mgsampler``        the field's training-free selectors (:mod:`baselines_zoo.field`)
``ocsampler:PATH`` ``liteeval:PATH``  the field's learned selectors: a checkpoint of
``frameexit:PATH``                 ``scripts/train_selector.py`` (or its ``--out`` directory)
``MODULE:ATTR``                    your policy: a class, instance or function in an importable
``path/to/file.py:ATTR``           module or a Python file (``frame_select_env.core.policy``)
``NAME=SPEC``                      any of the above, shown as ``NAME`` in tables and plots
=================================  ==============================================================

**Sequential agents** (``FrameSelectionSeq-v0``, :func:`parse_seq_agent_specs`, evaluated by
:func:`frame_select_env.evaluation.sequential.evaluate_sequential`):

====================================  ===========================================================
spec                                  agent
====================================  ===========================================================
``seq-random`` ``seq-uniform``        the comparators of :mod:`baselines_zoo.seq_policies`, one
``seq-confidence`` ``seq-stop``       per budget the caller gives (``seq-stop``: one; it pays
``seq-oracle``                        nothing); ``seq-oracle`` reads the relevance (upper bound)
``seq-as:PATH``                       the sequential AS agent (``agents.seq_agent``) paying its
                                      whole budget (the paper's test-time top-m, carried over)
``seq-as-stop:PATH``                  the same agent stopping on its own (an adaptive budget)
``maskable_ppo:PATH`` ``ppo:PATH``    a sequential SB3 run (``baselines_zoo.sb3.sequential``)
``MODULE:ATTR``                       your :class:`~frame_select_env.core.policy.SequentialPolicy`:
a
``path/to/file.py:ATTR``              class (one per budget when it takes ``budget``), an
                                      instance or a zero-argument factory
``NAME=SPEC``                         any of the above, shown as ``NAME``
====================================  ===========================================================

Learned sequential agents (``seq-as``, SB3) are evaluated at the env options they were trained
with (their ``env_kwargs``; a ``seq-as`` agent trained for several budgets, at each of them);
``{seed}`` in their ``PATH`` and ``seed_<k>/`` run directories work as below.

**Seeds.** ``PATH`` may contain ``{seed}``: evaluation seed k then uses the model trained with
seed k, so the spread over seeds in the table includes training variance (e.g.
``ppo:runs/ppo_s{seed}/model_{stream}``). A run directory with ``seed_<k>/`` sub-directories
(``scripts/train_reinforce.py --seeds N``) is used the same way; otherwise one checkpoint serves
every seed and its spread is 0.

**Streams.** An agent trained on one stream (an AS checkpoint or SB3 model with one stream in its
config) scores that stream. With ``cross_stream=True`` (the default) it also scores the other
stream when the input sizes match, so it gets a row for every stream and for the fused
prediction; the table then shows it as ``NAME*`` ("one model used for both streams"). With
``cross_stream=False`` it only gets rows for its own stream. Per-stream checkpoints
(``agent_rgb.pt`` + ``agent_flow.pt``) always use the matching agent per stream.
"""

from baselines_zoo.registry.common import ACCEPTED, AgentSpecError, split_display_name
from baselines_zoo.registry.one_step import (
    SB3_PREFIXES,
    AgentEntry,
    parse_agent_spec,
    parse_agent_specs,
)
from baselines_zoo.registry.sequential import (
    SEQ_ACCEPTED,
    SEQ_AS_PREFIXES,
    SEQ_SB3_PREFIXES,
    SeqAgentEntry,
    parse_seq_agent_spec,
    parse_seq_agent_specs,
)

__all__ = [
    "ACCEPTED",
    "SB3_PREFIXES",
    "SEQ_ACCEPTED",
    "SEQ_AS_PREFIXES",
    "SEQ_SB3_PREFIXES",
    "AgentEntry",
    "AgentSpecError",
    "SeqAgentEntry",
    "parse_agent_spec",
    "parse_agent_specs",
    "parse_seq_agent_spec",
    "parse_seq_agent_specs",
    "split_display_name",
]
