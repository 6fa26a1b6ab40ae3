"""Property / fuzz tests for the contract TSV reader."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis.strategies import characters

from hyperscan.reports import ReportError, read_reports

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

seconds = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
ident = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,11}", fullmatch=True)
code = st.lists(ident, min_size=1, max_size=3).map("/".join)
free_text = st.text(characters(exclude_categories=("Cc", "Cs")), max_size=30)


def _expected_text(t):
    t = t.strip()
    return "" if t.lower() in ("", "n/a") else t


@SETTINGS
@given(st.lists(st.tuples(seconds, seconds, st.sampled_from(["client", "therapist"]) | ident, code, free_text),
                max_size=15))
def test_random_valid_tables_roundtrip(rows):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.tsv"
        lines = ["onset\tduration\treporter\tcategory\ttext"]
        lines += [f"{on!r}\t{du!r}\t{rep}\t{cat}\t{txt}" for on, du, rep, cat, txt in rows]
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overlap warnings are expected for random tables
            df = read_reports(p)
    assert len(df) == len(rows)
    assert df["onset"].tolist() == [r[0] for r in rows]
    assert df["duration"].tolist() == [r[1] for r in rows]
    assert df["reporter"].tolist() == [r[2] for r in rows]
    assert df["category"].tolist() == [r[3] for r in rows]
    assert df["category_top"].tolist() == [r[3].split("/")[0] for r in rows]
    assert df["text"].tolist() == [_expected_text(r[4]) for r in rows]
    assert df["source_line"].tolist() == [str(i + 2) for i in range(len(rows))]


_TOKENS = ["onset", "duration", "reporter", "category", "text", "n/a", "-1", "1e400", "nan", "0", "1.5",
           "client", "a//b", '"', "\t", "\n", "\r\n", " ", "x", "\x00", "é", "\ufeff", "\\"]


@SETTINGS
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join).map(lambda s: s.encode("utf-8")),
    st.lists(st.sampled_from(_TOKENS[5:]), max_size=40).map(
        lambda t: ("onset\tduration\treporter\tcategory\n" + "".join(t)).encode("utf-8")),
))
@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_garbage_only_raises_report_error(suffix, data):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"g{suffix}"
        p.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                df = read_reports(p)
        except ReportError as exc:
            assert str(p) in str(exc)
            assert exc.problems
        else:
            assert isinstance(df, pd.DataFrame)
            assert (df["onset"] >= 0).all() and (df["duration"] >= 0).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
@pytest.mark.parametrize("suffix", [".eaf", ".TextGrid", ".txt", ".xdf"])
def test_garbage_other_formats_only_raise_report_error(suffix, data):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"g{suffix}"
        p.write_bytes((b"XDF:" if suffix == ".xdf" else b"") + data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read_reports(p)
        except ReportError as exc:
            assert str(p) in str(exc)
