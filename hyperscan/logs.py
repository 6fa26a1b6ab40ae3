"""Route a stage's Python logging and warnings to its Snakemake log file."""

from __future__ import annotations

import logging
import warnings


def to_file(path) -> None:
    logging.basicConfig(filename=str(path), level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    warnings.simplefilter("default")
