"""The core: the formulas every layer shares, with no dependency beyond numpy.

The reward (Eq. 2-4), top-m and threshold selection, aggregation and fusion, the metrics, TSN's
segment sampling, the selection-policy protocol, the constants and the config reader. Nothing here
imports another layer of the package.
"""
