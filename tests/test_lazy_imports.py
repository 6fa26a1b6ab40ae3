"""Start-up of the small group jobs (issue #19): each Snakemake ``script:`` job is a fresh
Python process, so a module that imports a heavy package it does not need on the job's
path costs that job its import time. These run the job's own calls in a subprocess and
look at ``sys.modules`` afterwards."""

import json
import subprocess
import sys
import textwrap

import pytest


def _modules_after(code: str, tmp_path) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (in ``tmp_path``)."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_windows_tables_round_trip_without_xarray(tmp_path):
    """Every group job reads windows.tsv and writes a TSV through hyperscan.windows; only
    the windows stage itself opens a synchrony.nc (xarray)."""
    mods = _modules_after("""
        import pandas as pd
        from hyperscan.windows import read_windows, write_tsv

        table = pd.DataFrame({"dyad": ["D01"] * 2, "session": ["S1"] * 2, "band": ["alpha"] * 2,
                              "metric": ["plv"] * 2, "start": [0.0, 4.0], "end": [4.0, 8.0],
                              "value": [0.25, 0.5], "excluded": [0, 1], "edge": [0, 0]})
        write_tsv(table, "windows.tsv")
        back = read_windows("windows.tsv")
        assert back.columns.tolist() == table.columns.tolist()
        for col in table:
            assert back[col].tolist() == table[col].tolist(), col
    """, tmp_path)
    assert "xarray" not in mods
    assert (tmp_path / "windows.json").is_file()  # the sidecar is still written


@pytest.mark.parametrize("module, absent", [
    ("hyperscan.stats", ["scipy.stats", "xarray", "matplotlib", "statsmodels"]),
    ("hyperscan.channel_pairs", ["scipy.stats", "scipy.sparse", "xarray", "mne"]),
    ("hyperscan.pseudo_contrasts", ["scipy.stats", "xarray", "matplotlib"]),
    ("hyperscan.summary", ["scipy.stats", "xarray", "statsmodels"]),
    ("hyperscan.io", ["mne.io.edf", "mne.io.eeglab", "mne.io.brainvision", "scipy.stats"]),  # via nulls: surrogates
])
def test_group_job_modules_leave_heavy_packages_to_the_calls_that_use_them(module, absent, tmp_path):
    mods = _modules_after(f"import {module}", tmp_path)
    assert not [m for m in absent if m in mods]


def test_statistics_import_scipy_stats_when_they_run(tmp_path):
    """The lazy imports still reach scipy: a t test, a t interval, BH and the precision
    note give scipy's own numbers."""
    mods = _modules_after("""
        import numpy as np
        import pandas as pd
        from scipy import stats as sps
        from scipy.stats import false_discovery_control

        from hyperscan import stats

        d = [0.3, 0.1, 0.25, -0.05]
        assert stats.group_test(d, "t")[0] == float(sps.ttest_1samp(d, 0.0).pvalue)
        assert stats.group_test(d, "wilcoxon")[0] == float(sps.wilcoxon(d).pvalue)
        half = sps.t.ppf(0.975, 3) * np.std(d, ddof=1) / np.sqrt(4)
        assert stats.t_interval(d) == (float(np.mean(d) - half), float(np.mean(d) + half))
        p = pd.Series([0.01, np.nan, 0.04, 0.2])
        q = stats._bh(p)
        assert np.isnan(q[1]) and q[[0, 2, 3]].tolist() == false_discovery_control([0.01, 0.04, 0.2]).tolist()
        assert f"± {sps.t.ppf(0.975, 3) / 2:.2f} ×" in stats.precision_note(4)
    """, tmp_path)
    assert "scipy.stats" in mods


def test_readers_are_mne_s_readers_when_asked(tmp_path):
    mods = _modules_after("""
        import mne

        from hyperscan.io import READERS, SUPPORTED

        assert READERS[".edf"] is mne.io.read_raw_edf and READERS.get(".vhdr") is mne.io.read_raw_brainvision
        assert READERS.get(".xdf") is None and ".xdf" not in READERS and ".set" in READERS
        assert dict(READERS) == {".edf": mne.io.read_raw_edf, ".bdf": mne.io.read_raw_bdf,
                                 ".vhdr": mne.io.read_raw_brainvision, ".fif": mne.io.read_raw_fif,
                                 ".set": mne.io.read_raw_eeglab}
        assert SUPPORTED == [".bdf", ".edf", ".fif", ".fif.gz", ".set", ".vhdr", ".xdf"]
    """, tmp_path)
    assert "mne.io.edf" in mods
