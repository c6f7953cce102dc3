"""algrid library: data, models, selection strategies, training, prediction, metrics.

The library does not know Snakemake exists; thin entry scripts in ``scripts/`` call it.
"""

__version__ = "0.1.0"
