"""The environments: ``FrameSelection-v0`` and ``FrameSelectionSeq-v0``, one subpackage each.

:mod:`.one_step` holds ``FrameSelection-v0``, :mod:`.sequential` ``FrameSelectionSeq-v0``.
Beside them, what both read: the env options and state-source registry (:mod:`.sources`),
store rows turned into observations (:mod:`.observations`), pictures (:mod:`.render`) and the
shared argument checks (:mod:`.checks`). The two envs import nothing of each other.
"""
