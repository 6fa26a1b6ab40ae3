"""JSON sidecars for every TSV hyperscan writes: the one column dictionary.

Each ``X.tsv`` gets an ``X.json`` beside it in the BIDS tabular-file format
(BIDS specification, "Tabular files"): one object per column with ``LongName``,
``Description``, ``Units`` (when the column has units) and ``Levels`` (for categorical columns:
each value found in the table with its meaning). :func:`write_sidecar` is called by the
writer (:func:`hyperscan.windows.write_tsv`), so the plain and the BIDS-derivatives layouts
carry the same sidecars.

Units follow BIDS/CF spelling: ``s``, ``ms``, ``Hz``; ``1`` (dimensionless) is left out, as
BIDS recommends for unitless quantities.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .atomic import atomic_output

#: Metric definitions (CONTRACT.md §5); x = analytic signal, u = x/|x|, Σ over one window.
METRIC_LEVELS = {
    "plv": "phase-locking value |Σ u_a u_b*| / T (Lachaux 1999), 0..1",
    "ciplv": "corrected imaginary PLV Im(P)/sqrt(1-Re(P)^2) (Bruña 2018), signed",
    "ppc": "pairwise phase consistency (T·plv²-1)/(T-1) (Vinck 2010)",
    "ccorr": "circular correlation of the phases (Fisher & Lee 1983), signed",
    "coh": "magnitude of coherency |Σ x_a x_b*| / sqrt(Σ|x_a|² Σ|x_b|²), 0..1",
    "imcoh": "imaginary part of coherency (Nolte 2004), signed (client leads: positive)",
    "pli": "phase-lag index |mean sign Im(x_a x_b*)| (Stam 2007), 0..1",
    "wpli": "weighted phase-lag index |Σ Im(x_a x_b*)| / Σ|Im(x_a x_b*)| (Vinck 2011), 0..1",
    "dwpli": "debiased squared wPLI (Vinck 2011)",
    "envcorr": "Pearson r of the amplitude envelopes |x_a|, |x_b| (Hipp 2012)",
    "powcorr": "Pearson r of the power envelopes |x_a|², |x_b|²",
}
PERSON_LEVELS = {"client": "the client of the dyad", "therapist": "the therapist of the dyad"}

_C = "category"
#: Exact column names -> (description, units or None, categorical?). The meaning a column has
#: in every table that carries it; :data:`TABLE_COLUMNS` overrides it for one table.
COLUMNS: dict[str, tuple[str, str | None, bool]] = {
    # identity of a row
    "dyad": ("dyad id (sessions sheet / participants.tsv `dyad`)", None, True),
    "session": ("session id of the dyad (sessions sheet `session`)", None, True),
    "band": ("frequency band (config `bands`: name -> [low, high] Hz)", None, True),
    "metric": ("inter-brain synchrony metric (hyperscan.synchrony)", None, True),
    "person": ("whose measure: client or therapist", None, True),
    "measure": ("per-person measure: ln_power_<band> (natural log of the band power), faa (frontal alpha "
                "asymmetry ln P_alpha(F4) - ln P_alpha(F3)), fm_theta (ln theta power at Fz)", None, True),
    "reporter": ("who reported the category: client, therapist, an observer id, the consensus reporter, or "
                 "'event' (an epoched session's event names)", None, True),
    "category": ("experiential category (report code) whose windows are compared", None, True),
    "reference": ("the windows the category is compared with (config `stats.reference`): others = every "
                  "window not coded with the category, unlabelled = windows the reporter left uncoded, or a "
                  "named category", None, True),
    "scope": ("dyad: one dyad's row; group: across dyads", None, True),
    "part": ("which windows of the coded episodes: early (before `directional.episodes.split` of the episode), "
             "late (the rest) or bin (one bin of episode time, see `time`)", None, True),
    # windows
    "start": ("window start on the EEG clock (time 0 = first sample both people have; epoched sessions: "
              "the client file's event sample / rate + tmin)", "s", False),
    "end": ("window end (exclusive) on the EEG clock", "s", False),
    "window_start": ("window start on the EEG clock, as the report labelling used it (equals start)", "s", False),
    "window_end": ("window end (exclusive) on the EEG clock, as the report labelling used it (equals end)",
                   "s", False),
    "value": ("synchrony of the window: the metric summarised over client x therapist channel pairs "
              "(config `synchrony.summary`: mean, median or homologous pairs); n/a where the window is "
              "excluded", None, False),
    "excluded": ("1 when the window overlaps a BAD_ segment of either person (value n/a), else 0", None, True),
    "edge": ("1 when the window lies within `stats.edge_trim` s of the recording's start or end (epoched "
             "sessions with window.epochs sliding: of its epoch's), where filter and Hilbert transients "
             "live; such windows enter no contrast, else 0", None, True),
    "epoch": ("epoched sessions: index (from 0) of the epoch, in the client's epochs file, that holds the "
              "window", None, False),
    # contrasts
    "n_dyads": ("number of dyads that entered the row", None, False),
    "n_dyads_total": ("number of dyads in the study (n_dyads < n_dyads_total: some dyads lacked enough "
                      "category or reference windows)", None, False),
    "n_sessions": ("number of sessions that entered the row", None, False),
    "n_windows": ("number of windows in the category (summed over the dyads that entered the row)", None, False),
    "n_reference_windows": ("number of reference windows (summed over the dyads that entered the row)", None, False),
    "estimate": ("across-dyad mean of each dyad's difference (mean value in the category's windows - mean "
                 "value in the reference windows)", None, False),
    "difference": ("this session's mean value in the category's windows minus its mean in the reference "
                   "windows", None, False),
    "ci_low": ("lower bound of the confidence interval of the estimate (level `stats.ci_level`, 95% by "
               "default)", None, False),
    "ci_high": ("upper bound of the confidence interval of the estimate (level `stats.ci_level`, 95% by "
                "default)", None, False),
    "p": ("two-sided p-value of the row's test (the table's README entry names it); never printed finer than "
          "the test can resolve", None, False),
    "p_floor": ("smallest p-value the row's test can attain with these dyads or shifts (a p equal to it means "
                "'at most this')", None, False),
    "p_min": ("smallest p-value the sign-flip test can attain with these dyads (2 / 2^n when exact)", None, False),
    "q": ("Benjamini-Hochberg FDR-adjusted p over all rows of the file that have a p", None, False),
    "group_test": ("the across-dyad test behind p (config `stats.group_test`): t (one-sample t-test of the "
                   "dyad differences), signflip (sign-flip permutation) or wilcoxon (signed-rank)", None, True),
    "p_signflip": ("sign-flip permutation p over the dyad differences (exact over all 2^n sign vectors when "
                   "that many fit in `stats.n_permutations`)", None, False),
    "p_signflip_floor": ("smallest p the sign-flip test can attain with these dyads", None, False),
    "p_shift": ("within-dyad circular-shift p: the session's label sequence shifted against its synchrony "
                "series (null: no alignment of labels and synchrony in these dyads)", None, False),
    "p_shift_floor": ("smallest p the circular-shift test can attain (1 / number of shifts when exact)", None, False),
    "q_shift": ("Benjamini-Hochberg FDR-adjusted p_shift over all rows of the file", None, False),
    "z_shift": ("z of the estimate against its circular-shift null ((estimate - mean) / SD of the shifted "
                "estimates)", None, False),
    "note": ("why a row lost dyads, rests on few reference windows or has no group test; empty when none of "
             "these applies", None, False),
    "selection": ("how the contrast was chosen for this table: primary (a priori, `stats.primary`) or split-half "
                  "(selected on half the dyads, fitted on the other half)", None, True),
    "text": ("verbatim report excerpt", None, False),
    # mixed models, channel pairs
    "coef": ("mixed-model coefficient of in_category (value ~ in_category + (1 + in_category | dyad)): the "
             "category's synchrony minus the reference's", None, False),
    "se": ("standard error of coef (from the mixed model, or from the per-dyad t-test; see model)", None, False),
    "df": ("degrees of freedom of the t reference distribution of coef (n_dyads - 1)", None, False),
    "converged": ("True when the mixed model converged; False: coef comes from the per-dyad summary t-test "
                  "(see model)", None, True),
    "model": ("the model behind coef: random intercept + slope per dyad (statsmodels MixedLM), or the "
              "per-dyad summary t-test used when that model did not converge", None, True),
    "t": ("t statistic of the channel pair's dyad differences (one-sample, across dyads)", None, False),
    "cluster": ("cluster id of the channel pair (neighbouring pairs above threshold; cluster permutation); "
                "empty when the pair is in no cluster", None, False),
    "cluster_p": ("cluster-level permutation p of the pair's cluster (max cluster mass over sign flips)", None, False),
    "client_channel": ("client's EEG channel of the pair (10-20 name)", None, False),
    "therapist_channel": ("therapist's EEG channel of the pair (10-20 name)", None, False),
    # nulls
    "pseudo_value": ("mean synchrony of the pseudo-dyads (this client with other dyads' therapists) at this "
                     "window", None, False),
    "n_pseudo": ("number of pseudo-dyads with a value at this window", None, False),
    "n_phase": ("number of phase-randomised therapist surrogates (`stats.nulls.n_phase_surrogates`)", None, False),
    "z_pseudo": ("z of the real synchrony against the pseudo-dyad distribution ((real - pseudo_mean) / "
                 "pseudo_sd)", None, False),
    "z_phase": ("z of the real synchrony against the phase-randomised surrogates ((real - phase_mean) / "
                "phase_sd)", None, False),
    "n_pseudo_pairs": ("number of pseudo-dyad (client, other therapist) pairs over the study", None, False),
    "real": ("across-dyad mean of the real synchrony (mean over each dyad's windows)", None, False),
    "pseudo": ("across-dyad mean of the pseudo-dyad synchrony (a dyad's client with other dyads' therapists)",
               None, False),
    "phase": ("across-dyad mean of the synchrony with phase-randomised therapist surrogates", None, False),
    "p_pseudo": ("sign-flip p over dyads of real - pseudo", None, False),
    "p_phase": ("sign-flip p over dyads of real - phase", None, False),
    "pseudo_share": ("share of the real contrast that pseudo-dyads reproduce (pseudo estimate / real "
                     "estimate; 1: all of it is shared stimulus)", None, False),
    "reproduced_by_pseudo": ("True when pseudo-dyads reproduce the contrast (share at least the threshold "
                             "and the real - pseudo interval includes 0): not evidence of interaction", None, True),
    "real_above_phase": ("across-dyad mean of real - phase-randomised synchrony", None, False),
    "pseudo_above_phase": ("across-dyad mean of pseudo-dyad - phase-randomised synchrony", None, False),
    "effect_d": ("Cohen's d of the dyads' real - pseudo differences (mean / SD)", None, False),
    "shared": ("True when pseudo-dyads reach the real dyads' level above the phase null (a shared stimulus)",
               None, True),
    # directional
    "psi": ("phase slope index (Nolte 2008), mean over channel pairs; positive: the therapist leads", None, False),
    "slope_re": ("real part of the complex phase slope (mean over channel pairs of sum_f C*(f) C(f + df) / |F|, "
                 "C = coherency)", None, False),
    "slope_im": ("imaginary part of the complex phase slope (equals psi); positive: the therapist leads", None, False),
    "lag_ms": ("lag between the two people: shift of the client's windows that leaves no phase slope "
               "(positive: the therapist leads)", "ms", False),
    "clock_uncertainty_ms": ("how well the two recordings are aligned: half a sample when both people are in "
                             "one file, else `directional.clock_uncertainty_ms`; n/a = unknown", "ms", False),
    "leader": ("who leads: therapist, client, neither, or undecided (clock unknown / clock uncertainty / too "
               "few dyads) when the lag interval widened by the clock uncertainty includes 0", None, True),
    "time": ("episode time: bin centre from the onset of the coded episode", "s", False),
    "n_episodes": ("number of coded episodes (runs of consecutive windows with the category) that entered", None,
                   False),
    "length_s": ("mean length of the episodes (centre of the first to centre of the last window)", "s", False),
    "lag_early_ms": ("lag in the early part of the episodes (positive: the therapist leads)", "ms", False),
    "lag_late_ms": ("lag in the late part of the episodes (positive: the therapist leads)", "ms", False),
    "psi_early": ("phase slope index in the early part of the episodes", None, False),
    "psi_late": ("phase slope index in the late part of the episodes", None, False),
    "change_ms": ("mean over dyads of late - early phase difference, wrapped to half a cycle, in ms "
                  "(positive: the therapist's lead grows): the statistic of the change test (p); it reads "
                  "about 20 % short, so the size of the change is lag_change_ms", "ms", False),
    "lag_change_ms": ("size of the change: mean over dyads of lag_late - lag_early (re-aligned lags, bias "
                      "measured in benchmarks/README.md; positive: the therapist's lead grows)", "ms", False),
    "switch_s": ("episode time at which the direction changes (two-segment fit), only where the change "
                 "survives the FDR", "s", False),
    "pattern": ("the change in words, e.g. 'matches, then therapist leads', or 'no change found'", None, True),
    # person, ratings, music
    "r": ("Pearson correlation of the two series (ratings: synchrony[t] with rating[t + lag])", None, False),
    "n": ("number of windows entering the correlation", None, False),
    "lag": ("lag in whole window steps (positive: the rating follows synchrony)", None, False),
    "lag_s": ("lag (positive: the rating follows synchrony)", "s", False),
    "is_peak": ("1 on the lag with the largest |r|, else 0", None, True),
    "p_lag": ("circular-shift p at this lag", None, False),
    "p_max": ("circular-shift p corrected for the search over lags (max statistic)", None, False),
    "p_shift_max": ("fixed-effects circular-shift p of max |mean r| over lags for these dyads", None, False),
    "shift": ("circular shift of the rating series (windows) that produced this row's surrogate r", None, False),
    "z": ("z statistic: the estimate over the SD of its sign-flip null", None, False),
    "value_partial": ("synchrony with the music envelope partialled out of both people's band signals", None, False),
    "value_control": ("synchrony with the music envelope circularly shifted by half the recording partialled "
                      "out (what removing any music-like regressor costs)", None, False),
    "tracking_client": ("client's EEG-music envelope coherence (mean over channels)", None, False),
    "tracking_therapist": ("therapist's EEG-music envelope coherence (mean over channels)", None, False),
    "estimate_control": ("the contrast estimate on value_control", None, False),
    "estimate_partial": ("the contrast estimate on value_partial (music partialled out)", None, False),
    "p_partial": ("sign-flip p over dyads of estimate_partial", None, False),
    "music_share": ("share of the contrast the music explains: 1 - estimate_partial / estimate_control", None,
                    False),
    "p_tracking_client": ("sign-flip p over dyads of the client's music tracking contrast", None, False),
    "p_tracking_therapist": ("sign-flip p over dyads of the therapist's music tracking contrast", None, False),
    "attribution": ("music (the partialled contrast vanishes), interaction (it survives partialling out the "
                    "music), none (no contrast to attribute) or undetermined", None, True),
    # summary tables
    "windows": ("number of windows of the session", None, False),
    "kept_pct": ("percent of the session's windows not excluded by a BAD_ segment", "%", False),
    "client_bad_channels": ("client channels found bad in preprocessing (interpolated or dropped), or none",
                            None, False),
    "therapist_bad_channels": ("therapist channels found bad in preprocessing (interpolated or dropped), or none",
                               None, False),
    "qc": ("relative link to the session's QC page", None, False),
    "z_pseudo_windows": ("mean z_pseudo of the category's windows (how far above strangers' synchrony these "
                         "moments are)", None, False),
    "z_pseudo_of": ("the band and metric whose nulls z_pseudo_windows comes from", None, False),
    "d_real": ("this session's real contrast (category mean - reference mean)", None, False),
    "d_pseudo": ("the same contrast on the session's pseudo-dyad values", None, False),
}
#: Per-table meanings (table = the TSV's file name without .tsv) where a column means more or
#: other than in :data:`COLUMNS`.
TABLE_COLUMNS: dict[str, dict[str, tuple[str, str | None, bool]]] = {
    "overview": {"excluded": ("number of the session's windows excluded by a BAD_ segment", None, False)},
    "contrasts": {"p": ("two-sided group p across dyads (`stats.group_test`); n/a below `stats.min_dyads` "
                        "dyads", None, False)},
    "mixed_models": {"p": ("two-sided p of coef (Wald t on df)", None, False)},
    "channel_pairs": {"estimate": ("across-dyad mean of the channel pair's category - reference difference",
                                   None, False)},
    "directional": {"p": ("sign-flip p over dyads of the mean phase slope's imaginary part (psi)", None, False),
                    "n_windows": ("number of windows pooled (all dyads)", None, False)},
    "directional_episodes": {"p": ("exact sign-flip p over dyads of change_ms (the test of a change; its "
                                   "size is lag_change_ms)", None, False),
                             "time": ("episode time of the bin centre from the episode onset (part bin; n/a "
                                      "for early/late)", "s", False)},
    "directional_episode_curve": {"n_windows": ("number of windows in the bin (all dyads)", None, False)},
    "pseudo_contrasts": {"estimate": ("across-dyad mean of the real contrast (category - reference)", None, False),
                         "p": ("sign-flip p over dyads of real - pseudo", None, False),
                         "ci_low": ("lower bound of the interval of real - pseudo (sign-flip inversion)", None, False),
                         "ci_high": ("upper bound of the interval of real - pseudo (sign-flip inversion)", None,
                                     False)},
    "music": {"p": ("sign-flip p over dyads of the estimate", None, False)},
    "ratings": {"ci_low": ("lower bound of the t interval of r (mean Fisher z over dyads)", None, False),
                "ci_high": ("upper bound of the t interval of r (mean Fisher z over dyads)", None, False),
                "n_dyads": ("number of dyads with a value at this lag", None, False)},
    "person_measures": {"band": ("per-person measure (ln_power_<band>, faa, fm_theta), in the band column of "
                                 "the contrast layout", None, True),
                        "metric": ("whose measure: client or therapist, in the metric column of the contrast "
                                   "layout", None, True)},
}
#: Column-name patterns (first match wins) -> (description template, units, categorical?)
PATTERNS: list[tuple[str, tuple[str, str | None, bool]]] = [
    (r"^event_category$", ("epoched sessions: the event name of the epoch holding the window (reporter "
                           "'event')", None, True)),
    (r"^event_report_id$", ("epoched sessions: index of the epoch behind event_category", None, False)),
    (r"^(?P<x>.+)_category$", ("category of reporter {x} covering at least `reports.min_overlap` of the window "
                               "(n/a: none; n/a:near_boundary: near a code boundary)", None, True)),
    (r"^(?P<x>.+)_coverage$", ("fraction (0-1) of the window covered by reporter {x}'s winning category", None,
                               False)),
    (r"^(?P<x>.+)_report_id$", ("row id(s), ;-joined, of the report rows behind reporter {x}'s category", None,
                                False)),
    (r"^(?P<x>.+)_near_boundary$", ("1 when the window edge is within the onset uncertainty of "
                                    "reporter {x}'s code boundary", None, True)),
    (r"^ln_power_(?P<x>.+)$", ("natural log of band power in band {x} (power in µV²)", None, False)),
    (r"^(?P<x>pseudo|phase)_(?P<y>mean|sd)$", ("{y} of the pooled {x} null distribution (all windows and draws "
                                                "of the session)", None, False)),
    (r"^(?P<x>pseudo|phase)_(?P<y>low|high)$", ("{y} bound of the central `stats.ci_level` interval of the "
                                                 "pooled {x} null distribution", None, False)),
    (r"^(?P<x>lag|lag_early|lag_late|change|lag_change)_ci_(?P<y>low|high)$", ("{y} bound of the interval of {x} over "
                                                                     "dyads (sign-flip inversion)", "ms", False)),
    (r"^(?P<x>.+)_ci_(?P<y>low|high)$", ("{y} bound of the `stats.ci_level` interval of {x} over dyads", None,
                                         False)),
    (r"^real_minus_(?P<x>.+)$", ("across-dyad mean of real minus {x} synchrony", None, False)),
    (r"^-?\d+(\.\d+)?$", ("surrogate r at this lag (column name: lag in s)", None, False)),
]
_MAX_LEVELS = 50


def _entry(column: str, table: str | None = None) -> tuple[str, str | None, bool] | None:
    desc = (TABLE_COLUMNS.get(table or "") or {}).get(column) or COLUMNS.get(column)
    if desc is None:
        for pattern, (template, units, cat) in PATTERNS:
            m = re.match(pattern, column)
            if m:
                return template.format(**m.groupdict()), units, cat
    return desc


def describe(column: str, table: str | None = None) -> dict:
    """The sidecar entry of one column name (without Levels); ``table``: the TSV's name without
    ``.tsv`` (``contrasts``, ``directional``, ...) for table-specific meanings."""
    desc = _entry(column, table) or (f"{column} (see the README's Outputs table)", None, False)
    text, units, _ = desc
    entry = {"LongName": column.replace("_", " "), "Description": text}
    if units:
        entry["Units"] = units
    return entry


def _levels(column: str, values: pd.Series) -> dict | None:
    known = {"metric": METRIC_LEVELS, "person": PERSON_LEVELS,
             "excluded": {"0": "window used", "1": "window overlaps a BAD_ segment"}}.get(column, {})
    uniq = sorted({str(v) for v in values.dropna()} - {"", "n/a", "nan"})
    if not uniq or len(uniq) > _MAX_LEVELS:
        return None
    return {v: known.get(v, v) for v in uniq}


def sidecar(table: pd.DataFrame, name: str | None = None) -> dict:
    """The BIDS tabular sidecar of ``table`` (``name``: the TSV's name without ``.tsv``): one
    entry per column, Levels for categorical ones."""
    out = {}
    for col in table.columns:
        col = str(col)
        entry = describe(col, name)
        cat = (_entry(col, name) or (None, None, False))[2]
        if cat:
            levels = _levels(col, table[col])
            if levels:
                entry["Levels"] = levels
        out[col] = entry
    return out


def sidecar_path(tsv_path) -> Path:
    return Path(tsv_path).with_suffix(".json")


def write_sidecar(table: pd.DataFrame, tsv_path, name: str | None = None) -> Path:
    """Write ``X.json`` beside ``X.tsv`` (atomically); returns its path. ``name``: the table's
    plain-layout name (default: ``X``; the BIDS view passes the source table's)."""
    path = sidecar_path(tsv_path)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(sidecar(table, name or Path(tsv_path).stem), indent=2,
                                        ensure_ascii=False) + "\n")
    return path
