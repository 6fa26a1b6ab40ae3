"""Every contrast on pseudo-dyads too: is it the interaction, or what any two people share?

Burgess (2013): two people who never met but heard the same music, blinked at the same
phrase ends or share a 10-Hz alpha "synchronise" as well. A contrast between what a person
reported (category c) and the reference windows is evidence of *interaction* only when the
same contrast, computed on pseudo-dyads with the real dyad's labels, is clearly smaller.

Per session (``nulls.tsv``: the real window value and ``pseudo_value``, the mean over that
session's pseudo-dyads — the client with other dyads' therapists, cropped to the common
length — joined to ``windows.tsv`` labels on dyad, session, band, metric and start), for
reporter r, category c and each band × metric:

* ``d_real = mean(value | c) − mean(value | reference)`` and ``d_pseudo`` the same on
  ``pseudo_value`` with the *same* windows and labels (reference as ``stats.reference``;
  excluded and near-boundary windows never count; a session needs ``min_windows`` category
  and reference windows with a finite pseudo value);
* per dyad the mean over its sessions; dyads are the independent units.

``group/pseudo_contrasts.tsv`` (one row per reporter × category × reference × band × metric):
``estimate`` (mean d_real), ``pseudo`` (mean d_pseudo), ``real_minus_pseudo`` (mean of the
dyads' d_real − d_pseudo) with ``ci_low``/``ci_high`` (sign-flip inversion over dyads,
``hyperscan.directional.episodes.sign_flip_ci``: exact for symmetric per-dyad differences,
unbounded (n/a) below 6 dyads at 95 %), ``p`` (two-sided sign-flip over dyads of the
difference, exact over all sign vectors up to ``n_permutations``) and ``p_min`` (its smallest
attainable value), ``pseudo_share`` = pseudo / estimate (the share of the contrast the
pseudo-dyads reproduce) with ``share_ci_low``/``share_ci_high`` (the interval of
real_minus_pseudo mapped through share = 1 − (real − pseudo)/real, so it has the same
validity), and ``reproduced_by_pseudo``: True when the pseudo-dyads reproduce at least half of
the contrast with the same sign *and* the real-minus-pseudo interval does not exclude 0 (or is
unbounded), for a contrast that exists (its own sign-flip interval over dyads excludes 0, or is
unbounded with too few dyads). The flag rests on an effect size and its interval, not on a test that cannot reject
with few dyads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .labels import session_contrast_blocks

COLUMNS = ["reporter", "category", "reference", "band", "metric", "n_dyads", "estimate", "pseudo",
           "real_minus_pseudo", "ci_low", "ci_high", "p", "p_min", "pseudo_share", "share_ci_low",
           "share_ci_high", "reproduced_by_pseudo"]

#: Share of a contrast the pseudo-dyads must reproduce to be flagged.
REPRODUCED_SHARE = 0.5


def session_differences(nulls: pd.DataFrame, windows: pd.DataFrame, *, reference: str = "unlabelled",
                        min_windows: int = 3) -> pd.DataFrame:
    """Per reporter × category × band × metric of one session: ``d_real``, ``d_pseudo``.

    ``nulls``: its nulls.tsv; ``windows``: its windows.tsv (labels). Raises ValueError naming
    the session when the two tables do not describe the same windows."""
    keys = ["band", "metric", "start"]
    label_cols = [c for c in windows.columns if c.endswith("_category")]
    extra = ["edge"] if "edge" in windows else []
    joined = nulls.merge(windows[keys + label_cols + extra], on=keys, how="left", validate="one_to_one")
    if len(label_cols) and joined[label_cols[0]].isna().any():
        where = f"{nulls['dyad'].iloc[0]}/{nulls['session'].iloc[0]}"
        raise ValueError(f"nulls.tsv of {where} has windows that windows.tsv lacks; re-run the nulls stage")
    usable = (joined["excluded"].to_numpy() == 0) & np.isfinite(joined["value"].to_numpy(float)) \
        & np.isfinite(joined["pseudo_value"].to_numpy(float))
    if "edge" in joined:  # edge windows (stats.edge_trim) enter no contrast, as in contrasts.tsv
        usable &= joined["edge"].to_numpy().astype(int) == 0
    rows = []
    for reporter, category, band, metric, block, cat, ref in session_contrast_blocks(
            joined, usable, reference=reference, min_windows=min_windows):
        real, pseudo = block["value"].to_numpy(float), block["pseudo_value"].to_numpy(float)
        rows.append(dict(dyad=str(nulls["dyad"].iloc[0]), session=str(nulls["session"].iloc[0]),
                         reporter=reporter, category=category, band=band, metric=metric,
                         d_real=real[cat].mean() - real[ref].mean(),
                         d_pseudo=pseudo[cat].mean() - pseudo[ref].mean()))
    return pd.DataFrame(rows, columns=["dyad", "session", "reporter", "category", "band", "metric",
                                       "d_real", "d_pseudo"])


def pseudo_contrasts(differences: list[pd.DataFrame], *, reference: str = "unlabelled",
                     ci_level: float = 0.95, n_permutations: int = 10000, seed: int = 0) -> pd.DataFrame:
    """group/pseudo_contrasts.tsv from every session's ``session_differences`` (module doc)."""
    from .directional.episodes import sign_flip_ci, sign_flip_p

    differences = [d for d in differences if len(d)]
    if not differences:
        return pd.DataFrame(columns=COLUMNS)
    data = pd.concat(differences, ignore_index=True)
    rng = np.random.default_rng(seed)
    rows = []
    for (reporter, category, band, metric), block in data.groupby(
            ["reporter", "category", "band", "metric"], sort=True):
        dyads = block.groupby("dyad")[["d_real", "d_pseudo"]].mean()
        real, pseudo = dyads["d_real"].to_numpy(), dyads["d_pseudo"].to_numpy()
        diff = real - pseudo
        p, p_min = sign_flip_p(diff, n_permutations, rng)
        lo, hi = sign_flip_ci(diff, ci_level, n_permutations, rng)
        estimate, pseudo_mean = real.mean(), pseudo.mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            share = pseudo_mean / estimate if estimate != 0 else np.nan
            # share = 1 - (real - pseudo)/real: the interval of the difference maps monotonically
            bounds = sorted([1 - lo / estimate, 1 - hi / estimate]) if estimate != 0 else [np.nan, np.nan]
        interval_allows_zero = not (np.isfinite(lo) and (lo > 0 or hi < 0))
        real_lo, real_hi = sign_flip_ci(real, ci_level, n_permutations, rng)
        no_contrast = np.isfinite(real_lo) and real_lo <= 0 <= real_hi  # nothing to reproduce
        reproduced = bool(np.isfinite(share) and share >= REPRODUCED_SHARE and interval_allows_zero
                          and not no_contrast)
        rows.append(dict(reporter=reporter, category=category, reference=reference, band=band, metric=metric,
                         n_dyads=len(dyads), estimate=estimate, pseudo=pseudo_mean,
                         real_minus_pseudo=diff.mean(), ci_low=lo, ci_high=hi, p=p, p_min=p_min,
                         pseudo_share=share, share_ci_low=bounds[0], share_ci_high=bounds[1],
                         reproduced_by_pseudo=reproduced))
    return pd.DataFrame(rows, columns=COLUMNS)


def pseudo_contrasts_stage(null_paths, window_paths, config: dict, out_path) -> None:
    """Workflow stage: every session's nulls.tsv and windows.tsv -> group/pseudo_contrasts.tsv."""
    from .windows import read_windows, write_tsv

    scfg = config["stats"]
    if len(null_paths) != len(window_paths):
        raise ValueError("pseudo_contrasts needs one windows.tsv per nulls.tsv")
    diffs = []
    for null_path, window_path in zip(null_paths, window_paths):
        nulls = pd.read_csv(null_path, sep="\t", dtype={"dyad": str, "session": str, "band": str,
                                                        "metric": str}, keep_default_na=False,
                            na_values=["n/a"])
        diffs.append(session_differences(nulls, read_windows(window_path), reference=scfg["reference"],
                                         min_windows=scfg["min_windows"]))
    write_tsv(pseudo_contrasts(diffs, reference=scfg["reference"], ci_level=scfg["ci_level"],
                               n_permutations=max(scfg["n_permutations"], 4096), seed=scfg["seed"]), out_path)


SHARED_COLUMNS = ["band", "metric", "n_dyads", "real_above_phase", "pseudo_above_phase", "pseudo_share",
                  "difference_ci_low", "difference_ci_high", "effect_d", "shared"]


def shared_stimulus_table(nulls: pd.DataFrame, *, ci_level: float = 0.95, n_permutations: int = 10000,
                          seed: int = 0, share: float = REPRODUCED_SHARE, min_d: float = 1.0) -> pd.DataFrame:
    """Is a band's synchrony shared with pseudo-dyads (a common stimulus)? An effect size with an
    interval valid for the number of dyads, not a test that cannot reject with few of them.

    ``nulls``: every session's nulls.tsv together. Per dyad and band × metric (kept windows):
    ``r = mean(value) − mean(phase_mean)`` (real synchrony above the phase-randomised null) and
    ``s = mean(pseudo_value) − mean(phase_mean)`` (pseudo-dyads above it). ``pseudo_share`` =
    mean s / mean r; ``difference_ci_*`` = sign-flip-inversion interval of r − s over dyads (n/a
    when the dyads are too few for the level); ``effect_d`` = mean r / SD r (standardised size of
    the real excess). ``shared`` when the excess is large (``effect_d`` ≥ ``min_d``), the
    pseudo-dyads reach at least ``share`` of it, and the interval of r − s does not exclude 0 (or
    is unbounded)."""
    from .directional.episodes import sign_flip_ci

    if nulls is None or not len(nulls):
        return pd.DataFrame(columns=SHARED_COLUMNS)
    data = nulls[(nulls["excluded"] == 0)].copy()
    for col in ("value", "pseudo_value", "phase_mean"):
        data[col] = pd.to_numeric(data[col], errors="coerce")
    data = data.dropna(subset=["value", "pseudo_value", "phase_mean"])
    rng = np.random.default_rng(seed)
    rows = []
    for (band, metric), block in data.groupby(["band", "metric"], sort=True):
        per = block.groupby(block["dyad"].astype(str))[["value", "pseudo_value", "phase_mean"]].mean()
        r = (per["value"] - per["phase_mean"]).to_numpy()
        s = (per["pseudo_value"] - per["phase_mean"]).to_numpy()
        lo, hi = sign_flip_ci(r - s, ci_level, n_permutations, rng)
        sd = r.std(ddof=1) if len(r) > 1 else np.nan
        d = r.mean() / sd if sd and np.isfinite(sd) and sd > 0 else np.nan
        pshare = s.mean() / r.mean() if r.mean() != 0 else np.nan
        inseparable = not (np.isfinite(lo) and (lo > 0 or hi < 0))
        rows.append(dict(band=band, metric=metric, n_dyads=len(per), real_above_phase=r.mean(),
                         pseudo_above_phase=s.mean(), pseudo_share=pshare, difference_ci_low=lo,
                         difference_ci_high=hi, effect_d=d,
                         shared=bool(np.isfinite(d) and d >= min_d and pshare >= share and inseparable)))
    return pd.DataFrame(rows, columns=SHARED_COLUMNS)


def shared_stimulus_note(nulls: pd.DataFrame, **kwargs) -> str:
    """The summary's shared-stimulus paragraph from ``shared_stimulus_table``."""
    import html

    table = shared_stimulus_table(nulls, **kwargs)
    shared = table[table["shared"]] if len(table) else table
    if not len(shared):
        return ("<p>No band/metric shows synchrony that pseudo-dyads share while exceeding the "
                "phase-randomised null (effect size and interval over dyads).</p>")
    items = ", ".join(f"{html.escape(str(r.band))} {html.escape(str(r.metric))} (pseudo-dyads reach "
                      f"{100 * r.pseudo_share:.0f} % of it)" for r in shared.itertuples())
    return (f"<p class='warn'><strong>Shared-stimulus synchrony:</strong> in {items} real dyads are "
            "above the phase-randomised null but pseudo-dyads (people who never played together) "
            "reach the same level. This is what a common stimulus — the music both hear — "
            "produces; it is not evidence of attunement. Contrasts between report categories "
            "are unaffected by a constant shared drive, because both sides of each contrast "
            "contain it (a drive that follows the reports is checked with the session audio).</p>")
