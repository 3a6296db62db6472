"""The skae benchmark: ``python -m skae.benchmark`` (or the ``skae-benchmark`` script).

It fits PCA, KernelPCA, :class:`skae.AutoencoderTransformer` (MLP and, on
images, convolutional) and :class:`skae.VAEGenerator` at several code sizes
on one data set with fixed seeds, and reports the test reconstruction error,
the share of variance kept, downstream classification accuracy, fit time,
transform throughput and peak memory as a Markdown table, ``results.json``,
``results.md`` and PNG plots.  See ``python -m skae.benchmark --help``.

The command-line entry point is ``skae.benchmark.__main__.main``; it is not
imported here, so that ``python -m skae.benchmark`` runs it exactly once.
"""

from ._methods import METHODS
from ._runner import run_benchmark

__all__ = ["METHODS", "run_benchmark"]
