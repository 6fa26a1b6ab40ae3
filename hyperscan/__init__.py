"""hyperscan: EEG hyperscanning and neurophenomenology for music-therapy research."""

__version__ = "0.1.0"
