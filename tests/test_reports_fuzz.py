"""Property / fuzz tests for the report and rating readers."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypothesis.strategies import characters

from hyperscan.reports import ReportError, read_ratings, read_reports

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


# ---------------------------------------------------------------- overlap check vs the quadratic reference


def _overlap_reference(df):
    """The former O(n^2) pairwise check (kept here as the reference implementation)."""
    from hyperscan.reports.common import _is_ancestor

    flags = [False] * len(df)
    rows = list(df[["onset", "duration", "reporter", "category"]].itertuples(index=False))
    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            if i == j or a.reporter != b.reporter or a.duration <= 0 or b.duration <= 0:
                continue
            if min(a.onset + a.duration, b.onset + b.duration) > max(a.onset, b.onset) \
                    and not _is_ancestor(a.category, b.category):
                flags[i] = True
    return flags


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 6), st.sampled_from(["client", "therapist"]),
                          st.sampled_from(["a", "a/b", "a/b/c", "a/c", "b", "b/a"])), max_size=25))
def test_overlap_flags_match_the_pairwise_reference(rows):
    from hyperscan.reports.common import _overlap_flags

    df = pd.DataFrame(rows, columns=["onset", "duration", "reporter", "category"]).astype(
        {"onset": float, "duration": float})
    assert _overlap_flags(df).tolist() == _overlap_reference(df)


# ---------------------------------------------------------------- new parsers: only ReportError, never a traceback


def _only_report_error(path, reader):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = reader(path)
    except ReportError as exc:
        assert str(path) in str(exc) and exc.problems
        return None
    return out


_BORIS_TOKENS = ["START", "STOP", "POINT", "client", "x", "1.5", "2,5", "-1", "NA", "", "\t", "\n", "nan", "1e400"]


@SETTINGS
@given(st.lists(st.sampled_from(_BORIS_TOKENS), max_size=60).map("".join),
       st.sampled_from(["Observation id\tSubject\tBehavior\tTime\tStatus\tTime offset (s)\n",
                        "Subject\tBehavior\tStart (s)\tStop (s)\tObservation id\n"]),
       st.sampled_from([None, "x", "client"]))
def test_boris_exports_garbage_only_raises_report_error(body, header, observation):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "b_events.tsv"
        p.write_text(header + body, encoding="utf-8")
        df = _only_report_error(p, lambda q: read_reports(q, observation=observation)
                                if observation else read_reports(q))
        if df is not None:
            assert (df["onset"] >= 0).all() and (df["duration"] >= 0).all()


_SLOT = st.one_of(st.none(), st.integers(-5, 50_000), st.sampled_from(["x", "1e400", "nan"]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SLOT, min_size=1, max_size=8),
       st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.sampled_from(["A", "B"])), max_size=8))
def test_eaf_random_slots_and_chains_only_raise_report_error(slots, anns):
    slot_xml = "".join(f'<TIME_SLOT TIME_SLOT_ID="ts{i}"' + ("" if v is None else f' TIME_VALUE="{v}"') + "/>"
                       for i, v in enumerate(slots))
    tiers = {"A": "", "B": ""}
    for k, (a, b, tier) in enumerate(anns):
        tiers[tier] += (f'<ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a{k}" TIME_SLOT_REF1="ts{a}" '
                        f'TIME_SLOT_REF2="ts{b}"><ANNOTATION_VALUE>c{k}</ANNOTATION_VALUE>'
                        "</ALIGNABLE_ANNOTATION></ANNOTATION>")
    doc = ('<ANNOTATION_DOCUMENT><HEADER TIME_UNITS="milliseconds"/><TIME_ORDER>' + slot_xml + "</TIME_ORDER>"
           '<TIER TIER_ID="A" LINGUISTIC_TYPE_REF="t">' + tiers["A"] + "</TIER>"
           '<TIER TIER_ID="B" PARENT_REF="A" LINGUISTIC_TYPE_REF="s">' + tiers["B"] + "</TIER>"
           '<LINGUISTIC_TYPE LINGUISTIC_TYPE_ID="t"/><LINGUISTIC_TYPE LINGUISTIC_TYPE_ID="s" '
           'CONSTRAINTS="Time_Subdivision"/></ANNOTATION_DOCUMENT>')
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.eaf"
        p.write_text(doc, encoding="utf-8")
        df = _only_report_error(p, read_reports)
        if df is not None:
            assert (df["onset"] >= 0).all() and (df["duration"] >= 0).all()


_RATING_TOKENS = ["Second", "Rating", "time", "value", ",", ";", "\t", "\n", "0", "0,5", "1.5", "-2", "x", "",
                  "nan", "1e400", '"', "\ufeff"]


@SETTINGS
@given(st.one_of(st.binary(max_size=300),
                 st.lists(st.sampled_from(_RATING_TOKENS), max_size=60).map("".join).map(str.encode),
                 st.just(b"PK\x03\x04").map(lambda b: b + b"\x00" * 40)),
       st.sampled_from([".csv", ".tsv", ".txt", ".xlsx"]),
       st.sampled_from([{}, {"rate": 10}, {"repeated_times": "mean"}, {"time_column": "t", "value_column": "v"}]))
def test_ratings_garbage_only_raises_report_error(data, suffix, opts):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"r{suffix}"
        p.write_bytes(data)
        df = _only_report_error(p, lambda q: read_ratings(q, **opts))
        if df is not None:
            assert (df["time"] >= 0).all() and (np.diff(df["time"]) > 0).all()
            assert np.isfinite(df["value"]).all()


@SETTINGS
@given(st.text(max_size=80))
def test_sheet_option_cells_never_raise(cell):
    from hyperscan.reports.options import parse_ratings_options, parse_report_options

    for parse in (parse_report_options, parse_ratings_options):
        opts, problems = parse(cell)
        assert isinstance(opts, dict) and all(isinstance(p, str) for p in problems)
