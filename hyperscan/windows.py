"""Windows stage: synchrony.nc + experience reports -> windows.tsv.

One row per window x band x metric. ``value`` summarises the client x therapist matrix of
the window (``synchrony.summary``: mean or median over all channel pairs, or the mean over
homologous pairs such as Fz-Fz). Each reporter gets a ``{reporter}_category`` column (the
category covering at least ``reports.min_overlap`` of the window, ``n/a`` otherwise) and a
``{reporter}_report_id`` column pointing back to the report rows. Windows overlapping a
``BAD_`` segment of either recording keep their row with ``excluded = 1`` and an empty
value, so the data lost is visible and countable. Windows within ``stats.edge_trim`` seconds
of the recording's start or end get ``edge = 1`` (:func:`edge_windows`): filter and Hilbert
transients live there, and the contrasts use them neither as category nor as reference.
Epoched sessions (``hyperscan.epoched``) add an ``epoch`` column and the reporter ``event``
(``event_category`` = the epoch's event name); their edge windows are set per epoch.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .atomic import atomic_output
from .labels import NEAR_BOUNDARY_LABEL, consensus_reporter, label_windows
from .reports import read_reports, to_eeg_time

if TYPE_CHECKING:  # xarray (~0.5 s to import) only where a synchrony file is read: every group job
    import xarray as xr  # imports read_windows/write_tsv from here and none of them needs it (issue #19)

log = logging.getLogger(__name__)
BASE_COLUMNS = ["dyad", "session", "band", "metric", "start", "end", "value", "excluded", "edge"]


def edge_windows(starts, ends, duration: float, trim: float) -> np.ndarray:
    """Boolean mask of windows that start within ``trim`` s of the recording's start (t = 0)
    or end within ``trim`` s of its end (``duration``), shape (n_windows,).

    Band-pass filtering and the Hilbert transform leave transients of a few cycles of the
    lowest band edge at both ends of a recording (FIR filter ring-up, the analytic signal's
    end effects); a reporter typically leaves exactly these stretches uncoded, so without
    trimming they would sit in the reference of every contrast. ``trim = 0`` keeps all.
    """
    starts, ends = np.asarray(starts, float), np.asarray(ends, float)
    if trim <= 0 or not len(starts):
        return np.zeros(len(starts), bool)
    return (starts < trim - 1e-9) | (ends > duration - trim + 1e-9)


def summarise_matrix(da: xr.DataArray, how: str = "mean") -> xr.DataArray:
    """Reduce (…, client_channel, therapist_channel) to one value per band and window."""
    dims = ["client_channel", "therapist_channel"]
    if how == "mean":
        return da.mean(dims, skipna=True)
    if how == "median":
        return da.median(dims, skipna=True)
    if how == "homologous":
        common = [c for c in da["client_channel"].values if c in set(da["therapist_channel"].values)]
        if not common:
            raise ValueError("synchrony.summary = homologous needs channel names shared by both people")
        import xarray as xr

        pairs = xr.concat([da.sel(client_channel=c, therapist_channel=c) for c in common], "pair")
        return pairs.mean("pair", skipna=True)
    raise ValueError(f"unknown summary {how!r}")


def _float64(da):
    """``da`` in float64: unchanged when it is, else converted (one band of one metric)."""
    return da if da.dtype == np.float64 else da.astype(np.float64)


def windows_table(synchrony_path, *, dyad: str, session: str, reports_path=None,
                  report_offset: float = 0.0, summary: str = "mean",
                  min_overlap: float = 0.5, clock: dict | None = None, report_format: str | None = None,
                  boundary_exclusion: bool = False, consensus: dict | None = None,
                  edge_trim: float = 0.0, report_options: dict | None = None) -> pd.DataFrame:
    """Build the windows table of one session (see module doc).

    ``clock`` holds the ``to_eeg_time`` parameters (``Session.report_clock()``); without it
    reports map as ``eeg_time = report_time + report_offset``. ``consensus`` (config
    ``reports.consensus``) adds a reporter built by ``labels.consensus_reporter`` before
    labelling. With ``boundary_exclusion`` a window whose ``{reporter}_near_boundary`` is
    true (start or end within the onset uncertainty of a code boundary) gets
    ``{reporter}_category = n/a:near_boundary`` (``labels.NEAR_BOUNDARY_LABEL``): the stats
    use it neither as a category window nor as a reference window for that reporter (plain
    ``n/a`` would make it an "unlabelled" reference window). Other reporters keep it.
    ``edge_trim`` (s) sets the ``edge`` column (:func:`edge_windows`).
    ``report_options``: reader options (``Session.report_reader_options()``: the sheet's
    ``report_options`` plus the session's BORIS observation / XDF clock origin).
    """
    import xarray as xr

    with xr.open_dataset(synchrony_path, engine="h5netcdf") as ds:
        metrics = [v for v in ds.data_vars if ds[v].dims == ("band", "time", "client_channel", "therapist_channel")]
        starts = ds["window_start"].values
        ends = ds["window_end"].values
        excluded = ds["bad_window"].values.astype(bool)
        bands = [str(b) for b in ds["band"].values]
        # One band of one metric at a time: a 60-min 64 x 64-channel session holds ~0.6 GB
        # per metric, and loading them all at once would keep every metric in memory.
        # A single-precision file (synchrony.dtype float32) is summarised in float64, so the
        # mean over 4096 pairs adds no float32 rounding of its own; float64 files as they are.
        values = {m: np.stack([summarise_matrix(_float64(ds[m].isel(band=k)), summary).values
                               for k in range(len(bands))]) if bands else np.empty((0, len(starts)))
                  for m in metrics}
        duration = float(ds.attrs.get("recording_duration", ends[-1] if len(ends) else 0.0))
        from .epoched import epoch_columns

        epoched = epoch_columns(ds, edge_trim)  # None for a continuous session (hyperscan.epoched)
    if reports_path is not None:
        reports = read_reports(reports_path, fmt=report_format, **(report_options or {}))
        reports = to_eeg_time(reports, **(clock or dict(offset=report_offset)),
                              recording_duration=duration, source=reports_path)
    else:
        reports = pd.DataFrame(columns=["onset", "duration", "reporter", "category", "text", "report_id"])
    if consensus:
        reports = consensus_reporter(reports, reporters=[str(r) for r in consensus["raters"]],
                                     min_raters=consensus["min_raters"],
                                     name=consensus.get("name", "consensus"),
                                     tolerance=consensus.get("tolerance", 0.0))
    if epoched is not None and (reports["reporter"].astype(str) == "event").any():
        from .errors import InputError, problem

        raise InputError(problem(reports_path, "has a reporter called 'event', the name an epoched session "
                                               "gives its epochs' event names", "another reporter name"))
    labels = label_windows(starts, ends, reports, min_overlap=min_overlap,
                           reporters=_reporters(reports, consensus), boundary_exclusion=boundary_exclusion)
    if boundary_exclusion:
        for col in [c for c in labels.columns if c.endswith("_near_boundary")]:
            reporter = col[: -len("_near_boundary")]
            near = labels[col].astype(bool).to_numpy()
            labels.loc[near, f"{reporter}_category"] = NEAR_BOUNDARY_LABEL
            labels.loc[near, f"{reporter}_report_id"] = ""
    n_win = len(starts)
    edge = edge_windows(starts, ends, duration, edge_trim).astype(int)
    extra = {}
    if epoched is not None:  # each epoch's event name is reporter "event"'s category
        extra, event_labels, edge = epoched[0], epoched[1], epoched[2].astype(int)
        labels = pd.concat([labels.reset_index(drop=True), event_labels], axis=1)
    frames = []
    for m in metrics:
        for k, band in enumerate(bands):
            val = values[m][k].astype(float).copy()
            val[excluded] = np.nan
            frame = pd.DataFrame({"dyad": dyad, "session": session, "band": band, "metric": m,
                                  "start": starts, "end": ends, "value": val,
                                  "excluded": excluded.astype(int), "edge": edge, **extra})
            frames.append(pd.concat([frame, labels.reset_index(drop=True)], axis=1))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BASE_COLUMNS)
    assert len(table) == n_win * len(bands) * len(metrics)
    return table


def _reporters(reports: pd.DataFrame, consensus: dict | None) -> list[str]:
    """client, therapist, every other reporter found, and the consensus reporter (always a
    column when configured, ``n/a`` where the raters never agree)."""
    found = sorted(set(reports["reporter"].astype(str)) - {"client", "therapist"})
    extra = [consensus.get("name", "consensus")] if consensus else []
    return ["client", "therapist"] + [r for r in found if r not in extra] + extra


def write_tsv(table: pd.DataFrame, path) -> None:
    """Write a TSV atomically (``hyperscan.atomic``); missing values as ``n/a``, floats with
    10 significant digits; its JSON sidecar (``hyperscan.sidecars``) beside it."""
    with atomic_output(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="n/a", float_format="%.10g")
    from .sidecars import write_sidecar  # every TSV gets its JSON column dictionary (hyperscan.sidecars)

    write_sidecar(table, path)


def read_windows(path) -> pd.DataFrame:
    """Read a windows.tsv back (categories stay strings; ``n/a`` values become NaN)."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for col in ("start", "end", "value"):
        table[col] = pd.to_numeric(table[col].replace("n/a", np.nan))
    table["excluded"] = table["excluded"].astype(int)
    if "edge" in table:
        table["edge"] = table["edge"].astype(int)
    return table


def windows_stage(synchrony_path, session, config: dict, out_path) -> None:
    """Workflow stage: synchrony.nc + the session's reports -> windows.tsv."""
    table = windows_table(synchrony_path, dyad=session.dyad, session=session.session,
                          reports_path=session.reports, clock=session.report_clock(),
                          report_format=session.report_format,
                          report_options=session.report_reader_options(),
                          summary=config["synchrony"]["summary"],
                          min_overlap=config["reports"]["min_overlap"],
                          boundary_exclusion=config["reports"].get("boundary_exclusion", False),
                          consensus=config["reports"].get("consensus"),
                          edge_trim=config["stats"].get("edge_trim", 0.0))
    write_tsv(table, out_path)
    n_windows = table[["start"]].drop_duplicates().shape[0]
    log.info("windows %s/%s: %d windows x %d bands x %d metrics, %d windows excluded (BAD_ segments) -> %s",
             session.dyad, session.session, n_windows, table["band"].nunique(), table["metric"].nunique(),
             int(table.drop_duplicates("start")["excluded"].sum()), out_path)
