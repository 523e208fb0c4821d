"""Stable-Baselines3 comparators: networks, training, loading without unpickling, scoring.

Layered inside: :mod:`.loading` (zip reading), :mod:`.policies` / :mod:`.sequential` /
:mod:`.wrappers` (networks and env wrappers for each env), :mod:`.train` (training, model
rebuilding) and :mod:`.scoring` (trained models as selection policies); each imports only those
before it.
"""
