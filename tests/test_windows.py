"""windows.tsv from a hand-built synchrony.nc with known values."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hyperscan.windows import read_windows, summarise_matrix, windows_table, write_tsv


def _synchrony_file(path):
    n_time = 6
    starts = np.arange(n_time, dtype=float)
    vals = np.zeros((1, n_time, 2, 2))
    vals[0, :, 0, 0] = np.arange(n_time)  # Fz-Fz
    vals[0, :, 1, 1] = 10.0  # Cz-Cz
    vals[0, :, 0, 1] = 1.0
    vals[0, :, 1, 0] = 3.0
    ds = xr.Dataset({"plv": (("band", "time", "client_channel", "therapist_channel"), vals)},
                    coords=dict(band=["alpha"], time=starts + 1, client_channel=["Fz", "Cz"],
                                therapist_channel=["Fz", "Cz"], window_start=("time", starts),
                                window_end=("time", starts + 2)))
    ds["bad_window"] = ("time", np.array([0, 0, 0, 0, 1, 0], bool))
    ds.attrs["recording_duration"] = 7.0
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def test_summaries_by_hand(tmp_path):
    ds = xr.open_dataset(_synchrony_file(tmp_path / "s.nc"), engine="h5netcdf")
    mean = summarise_matrix(ds["plv"], "mean").values[0]
    np.testing.assert_allclose(mean, (np.arange(6) + 10 + 1 + 3) / 4)
    homol = summarise_matrix(ds["plv"], "homologous").values[0]
    np.testing.assert_allclose(homol, (np.arange(6) + 10) / 2)


def test_windows_table_labels_and_exclusion(tmp_path):
    nc = _synchrony_file(tmp_path / "s.nc")
    reports = tmp_path / "r.tsv"
    # Report clock: eeg = report + 1. 'connected' covers eeg [1.5, 4.5): windows [1,3) 0.75,
    # [2,4) 1.0, [3,5) 0.75; [0,2) 0.25 and [4,6) 0.25 stay n/a with min_overlap 0.5.
    pd.DataFrame({"onset": [0.5], "duration": [3.0], "reporter": ["client"], "category": ["connected"],
                  "text": ["we were together"]}).to_csv(reports, sep="\t", index=False)
    t = windows_table(nc, dyad="D1", session="S1", reports_path=reports, report_offset=1.0)
    assert list(t.client_category) == ["n/a", "connected", "connected", "connected", "n/a", "n/a"]
    assert list(t.therapist_category) == ["n/a"] * 6
    assert list(t.excluded) == [0, 0, 0, 0, 1, 0]
    assert np.isnan(t.value[4]) and t.value[0] == pytest.approx(14 / 4)
    write_tsv(t, tmp_path / "w.tsv")
    back = read_windows(tmp_path / "w.tsv")
    assert list(back.columns[:8]) == ["dyad", "session", "band", "metric", "start", "end", "value", "excluded"]
    np.testing.assert_allclose(back.value.to_numpy(), t.value.to_numpy())
    assert (tmp_path / "w.tsv").read_text().splitlines()[5].split("\t")[6] == "n/a"
