"""hyperscan: EEG hyperscanning and neurophenomenology for music-therapy research.

Distributed as ``hyperscan-eeg`` (``pip install hyperscan-eeg``). The package-index name
``hyperscan`` is Intel's regular-expression library, which also imports as ``hyperscan``;
the two cannot share an environment (docs: "Not Intel's hyperscan").
"""

__version__ = "0.1.0"  # the one version source (pyproject.toml reads it; CITATION.cff and CHANGELOG.md follow)

# Names of Intel's Hyperscan bindings, which tools probing for that library look up.
_INTEL_NAMES = ("Database", "Scratch", "Stream", "ExpressionExt")


def __getattr__(name):
    if name.startswith("HS_") or name in _INTEL_NAMES:
        raise AttributeError(
            f"module 'hyperscan' has no attribute {name!r}: this 'hyperscan' is hyperscan-eeg (EEG "
            "hyperscanning), not Intel's regex library (pip package 'hyperscan'); the two cannot share "
            "an environment")
    raise AttributeError(f"module 'hyperscan' has no attribute {name!r}")
