"""Every TSV gets a BIDS tabular JSON sidecar from one column dictionary (hyperscan.sidecars)."""

import json

import numpy as np
import pandas as pd

from hyperscan.sidecars import COLUMNS, describe
from hyperscan.windows import write_tsv

CONTRACT_WINDOWS = "dyad session band metric start end value excluded".split()
CONTRACT_CONTRASTS = "reporter category reference band metric n_dyads estimate ci_low ci_high p q".split()


def test_windows_table_sidecar_columns_units_levels(tmp_path):
    table = pd.DataFrame({"dyad": ["D01"] * 4, "session": ["S1"] * 4, "band": ["alpha", "alpha", "theta", "theta"],
                          "metric": ["plv", "wpli", "plv", "wpli"], "start": [0.0, 0.0, 1.0, 1.0],
                          "end": [2.0, 2.0, 3.0, 3.0], "value": [0.5, np.nan, 0.2, 0.1], "excluded": [0, 1, 0, 0],
                          "client_category": ["connected", "n/a", "n/a", "connected"],
                          "rater1_report_id": ["3", "", "", "4"]})
    write_tsv(table, tmp_path / "windows.tsv")
    side = json.loads((tmp_path / "windows.json").read_text())
    assert list(side) == list(table.columns)  # every column, in order
    assert side["start"]["Units"] == "s" and side["end"]["Units"] == "s" and "Units" not in side["value"]
    assert side["metric"]["Levels"]["plv"].startswith("phase-locking value")
    assert set(side["metric"]["Levels"]) == {"plv", "wpli"}
    assert side["band"]["Levels"] == {"alpha": "alpha", "theta": "theta"}
    assert side["excluded"]["Levels"]["1"] == "window overlaps a BAD_ segment"
    assert "reporter client" in side["client_category"]["Description"]
    assert side["client_category"]["Levels"] == {"connected": "connected"}  # n/a is not a level
    assert "reporter rater1" in side["rater1_report_id"]["Description"]


def test_contract_columns_have_their_own_descriptions():
    for col in CONTRACT_WINDOWS + CONTRACT_CONTRASTS:
        assert col in COLUMNS, col
        assert "see the README" not in describe(col)["Description"]
    assert describe("lag_ms")["Units"] == "ms"
    assert "see the README" in describe("something_new")["Description"]  # honest fallback
