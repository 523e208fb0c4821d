"""The pipeline: from video files to the states the envs read, and the tools it shares.

Decoding and optical flow (:mod:`.video`), backbones and the frozen classifier (:mod:`.models`),
TSN training (:mod:`.tsn`), extraction into a store (:mod:`.extract`), your own features
(:mod:`.feature_import`), the env straight from videos (:mod:`.online`), cost in MACs and seconds
(:mod:`.cost`), video lists and the built-in dataset (:mod:`.datasets`), the stream and backbone
registries, worker pools and devices. It builds on the store and the envs, never on the agents.
"""
