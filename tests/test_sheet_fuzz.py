"""Property tests for the sessions-sheet and config parsers (hypothesis).

* any bytes, and any table of awkward cells, give either sessions or an InputError —
  never another exception;
* a valid random sheet round-trips: what was written is what is read back;
* any bytes / any YAML document as config give a config or an InputError.
"""

from __future__ import annotations

import math
import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperscan.config import load_config, validate_config
from hyperscan.errors import InputError
from hyperscan.sessions import check_sessions, read_sessions

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "eeg").mkdir()
    (root / "rep").mkdir()
    for i in range(4):
        (root / "eeg" / f"p{i}.edf").write_bytes(b"0")
        (root / "rep" / f"r{i}.tsv").write_text("onset\tduration\treporter\tcategory\n")
    return root


def _read(path):
    try:
        read_sessions(path)
    except InputError as err:
        assert err.problems and all(isinstance(p, str) and str(path) in p for p in err.problems)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_sheet_only_input_errors(folder, data):
    path = folder / "bytes.tsv"
    path.write_bytes(data)
    _read(path)


CELL = st.one_of(
    st.text(alphabet=string.printable + "é\u00a0\u2028\ufeff\x00", max_size=12),
    st.sampled_from(["", "n/a", "NA", "nan", "eeg/p0.edf", "eeg/p1.edf", "eeg", "rep/r0.tsv", "-1e309",
                     "inf", "12.5", "D1", "S1", '"', '"a\tb"', "dyad", "\t", "\n"]),
)
HEADER = st.lists(st.sampled_from(["dyad", "session", "client", "therapist", "reports", "report_offset",
                                   "client_select", "therapist_select", "reprots", "notes", "", "dyad"]),
                  min_size=0, max_size=9)


@FUZZ
@given(HEADER, st.lists(st.lists(CELL, max_size=10), max_size=6))
def test_random_tables_only_input_errors(folder, header, rows):
    text = "\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
    path = folder / "table.tsv"
    path.write_text(text, encoding="utf-8")
    _read(path)


IDS = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6)
OFFSET = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


@st.composite
def valid_rows(draw):
    keys = draw(st.lists(st.tuples(IDS, IDS), min_size=1, max_size=6, unique=True))
    rows = []
    for dyad, session in keys:
        rows.append(dict(
            dyad=dyad, session=session,
            client=f"eeg/p{draw(st.integers(0, 3))}.edf", therapist=f"eeg/p{draw(st.integers(0, 3))}.edf",
            reports=draw(st.sampled_from([None, "rep/r0.tsv", "rep/r3.tsv"])),
            report_offset=draw(st.one_of(st.none(), OFFSET)),
            client_select=draw(st.sampled_from([None, "C_", "EEG client"])),
            therapist_select=draw(st.sampled_from([None, "T_"])),
        ))
    return rows


@FUZZ
@given(valid_rows(), st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_valid_sheets_round_trip(folder, rows, bom, newline):
    cols = ["dyad", "session", "client", "therapist", "reports", "report_offset", "client_select",
            "therapist_select"]

    def cell(v):
        return "n/a" if v is None else repr(v) if isinstance(v, float) else str(v)

    text = "\t".join(cols) + newline + "".join("\t".join(cell(r[c]) for c in cols) + newline for r in rows)
    path = folder / "valid.tsv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    sessions = read_sessions(path)
    assert len(sessions) == len(rows)
    for i, (s, r) in enumerate(zip(sessions, rows), start=1):
        assert (s.dyad, s.session, s.row) == (r["dyad"], r["session"], i)
        assert s.client == (folder / r["client"]).resolve()
        assert s.therapist == (folder / r["therapist"]).resolve()
        assert s.reports == (None if r["reports"] is None else (folder / r["reports"]).resolve())
        assert s.report_offset == (0.0 if r["report_offset"] is None else r["report_offset"])
        assert (s.client_select, s.therapist_select) == (r["client_select"], r["therapist_select"])


@FUZZ
@given(valid_rows())
def test_duplicate_of_any_valid_row_is_named(folder, rows):
    cols = ["dyad", "session", "client", "therapist"]
    body = [rows[0]] + rows  # row 1 again as row 2
    text = "\t".join(cols) + "\n" + "".join("\t".join(str(r[c]) for c in cols) + "\n" for r in body)
    path = folder / "dups.tsv"
    path.write_text(text)
    sessions, problems = check_sessions(path)
    dup = [p for p in problems if "appears again" in p]
    assert len(dup) == 1 and "row 2, line 3" in dup[0] and "(first in row 1)" in dup[0]
    assert len(sessions) == len(body)


# ------------------------------------------------------------------ config


def _load(path):
    try:
        cfg = load_config(path)
    except InputError as err:
        assert err.problems and all(str(path) in p for p in err.problems)
        return None
    assert isinstance(cfg, dict) and "window" in cfg and "stats" in cfg
    return cfg


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_config_only_input_errors(folder, data):
    path = folder / "bytes.yaml"
    path.write_bytes(data)
    _load(path)


SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
KEYS = st.one_of(st.sampled_from(["sessions", "output_dir", "bands", "metrics", "window", "length", "step",
                                  "stats", "seed", "n_permutations", "preprocessing", "notch", "summary",
                                  "synchrony", "alpha", "reports", "min_overlap", "sesions"]),
                 st.text(max_size=6), st.integers(-3, 3))
DOC = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(KEYS, inner, max_size=5)),
                   max_leaves=25)


@FUZZ
@given(DOC)
def test_random_yaml_config_only_input_errors(folder, doc):
    path = folder / "doc.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _load(path)


@FUZZ
@given(length=st.floats(0.1, 10.0), step_fraction=st.floats(0.05, 1.0),
       n_perm=st.integers(99, 5000), low=st.floats(0.5, 40.0), width=st.floats(0.5, 20.0))
def test_valid_configs_round_trip(length, step_fraction, n_perm, low, width):
    step = length * step_fraction
    cfg = validate_config({"sessions": "s.tsv", "window": {"length": length, "step": step},
                           "stats": {"n_permutations": n_perm}, "bands": {"b": [low, low + width]},
                           # a filter that passes every band drawn (bands outside it are refused)
                           "preprocessing": {"l_freq": 0.5, "h_freq": 60.0}})
    assert cfg["window"] == {"length": length, "step": step, "epochs": "whole"}
    assert cfg["stats"]["n_permutations"] == n_perm and cfg["stats"]["seed"] == 20261124
    assert cfg["bands"] == {"b": [low, low + width]} and math.isclose(cfg["reports"]["min_overlap"], 0.5)
