"""Channel-pair results for the strongest contrasts: where on the two heads is the effect?

windows.tsv summarises each window's client × therapist matrix by one value; here the
matrix comes back. For each contrast chosen without double dipping by
``hyperscan.stats.select_contrasts`` (the a-priori ``stats.primary`` contrasts on all dyads,
or else the ``stats.channel_pairs.top`` strongest on a random half of the dyads, fitted on the
other half; column ``selection`` says which):

* per session and channel pair, ``mean(category windows) − mean(reference windows)`` of
  the synchrony in synchrony.nc (same windows, labels and exclusions as contrasts.tsv);
  per dyad, the mean over its sessions;
* a one-sample cluster-based permutation test over dyads (Maris & Oostenveld 2007;
  ``mne.stats.permutation_cluster_1samp_test``, sign flips, two-tailed, cluster-forming
  threshold the t of p < ``cluster_p`` two-sided) on the (n_dyads, n_pairs) matrix with an
  **adjacency over channel pairs**: (c, t) and (c', t') are neighbours when c = c' and t, t'
  are neighbouring therapist channels, or t = t' and c, c' are neighbouring client
  channels (``kron(A_client, I) + kron(I, A_therapist)``; channel neighbours from the
  Delaunay triangulation of the montage positions, ``mne.channels.find_ch_adjacency``).
  With n dyads there are only 2**n sign flips: 6 dyads cannot give a cluster p below 1/32.

``group/channel_pairs.tsv``: one row per contrast × channel pair: ``reporter category
reference band metric client_channel therapist_channel n_dyads estimate t cluster
cluster_p selection`` (``cluster`` = id of the pair's cluster, ``n/a`` if in none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# scipy.sparse / scipy.stats are imported where a cluster test runs (the job's start-up
# otherwise paid for them even when no contrast has two dyads; issue #19)
PAIR_COLUMNS = ["reporter", "category", "reference", "band", "metric", "client_channel",
                "therapist_channel", "n_dyads", "estimate", "t", "cluster", "cluster_p", "selection"]


def channel_adjacency(channels: list[str], montage: str | None = "colin27_1020"):
    """(n, n) sparse adjacency of channels from montage positions; identity if unknown."""
    import mne
    import scipy.sparse

    n = len(channels)
    if montage:
        try:
            mont = mne.channels.make_standard_montage(montage)
            known = {c.lower() for c in mont.ch_names}
            if all(c.lower() in known for c in channels) and n >= 4:
                info = mne.create_info(list(channels), 250.0, "eeg")
                info.set_montage(mont, match_case=False, verbose="error")
                adj, names = mne.channels.find_ch_adjacency(info, "eeg")
                order = [names.index(c) for c in channels]
                return scipy.sparse.csr_matrix(adj)[order][:, order]
        except (ValueError, RuntimeError):
            pass
    return scipy.sparse.identity(n, format="csr")


def pair_adjacency(client_adj, therapist_adj):
    """Adjacency over (client, therapist) pairs, pair index = client * n_therapist + therapist."""
    import scipy.sparse

    n_c, n_t = client_adj.shape[0], therapist_adj.shape[0]
    a_c = (client_adj - scipy.sparse.diags(client_adj.diagonal().astype(float))).astype(bool).astype(float)
    a_t = (therapist_adj - scipy.sparse.diags(therapist_adj.diagonal().astype(float))).astype(bool).astype(float)
    adj = scipy.sparse.kron(a_c, scipy.sparse.identity(n_t)) + scipy.sparse.kron(scipy.sparse.identity(n_c), a_t)
    return scipy.sparse.coo_matrix(adj.astype(bool).astype(int))


def pair_differences(sessions, reporter, category, reference, band, metric, min_windows=3, edge_trim=0.0):
    """Per dyad (client_ch, therapist_ch) difference matrices and channel names.

    ``sessions``: list of (windows table, synchrony Dataset or path to synchrony.nc); only
    the one metric and band needed is read from a file.
    """
    import xarray as xr

    from .stats import _edge_mask, _masks

    per_dyad = {}
    names = None
    for table, source in sessions:
        if isinstance(source, xr.Dataset):
            ds = source
        else:
            with xr.open_dataset(source, engine="h5netcdf") as handle:
                if metric not in handle:
                    continue
                ds = handle[[metric, "bad_window"]].sel(band=[band]).load()
        first = table[(table.band == table.band.iloc[0]) & (table.metric == table.metric.iloc[0])]
        first = first.sort_values("start")
        col = f"{reporter}_category"
        if col not in first or metric not in ds or band not in list(ds["band"].values):
            continue
        cat, ref = _masks(first[col].to_numpy(dtype=object), category, reference)
        keep = (first["excluded"].to_numpy() == 0) & ~_edge_mask(first, edge_trim)
        cat, ref = cat & keep, ref & keep
        if cat.sum() < min_windows or ref.sum() < min_windows:
            continue
        # float64 means also of a single-precision synchrony.nc (synchrony.dtype float32)
        mat = np.asarray(ds[metric].sel(band=band).transpose("time", "client_channel", "therapist_channel").values,
                         dtype=np.float64)
        these = (list(map(str, ds["client_channel"].values)), list(map(str, ds["therapist_channel"].values)))
        if names is None:
            names = these
        elif these != names:
            continue  # a different montage cannot share a matrix; the dyad is left out here
        diff = np.nanmean(mat[cat], axis=0) - np.nanmean(mat[ref], axis=0)
        per_dyad.setdefault(str(first["dyad"].iloc[0]), []).append(diff)
    dyads = sorted(per_dyad)
    stack = np.stack([np.mean(per_dyad[d], axis=0) for d in dyads]) if dyads else None
    return dyads, stack, names


def cluster_test(diffs: np.ndarray, adjacency, *, n_permutations=1024, cluster_p=0.05, seed=0):
    """Cluster permutation over dyads of (n_dyads, n_pairs) differences -> (t, cluster id, p)."""
    import scipy.stats
    from mne.stats import permutation_cluster_1samp_test

    n = diffs.shape[0]
    threshold = scipy.stats.t.ppf(1 - cluster_p / 2, n - 1)
    t_obs, clusters, pvals, _ = permutation_cluster_1samp_test(
        diffs, threshold=threshold, n_permutations=min(n_permutations, 2**n), tail=0,
        adjacency=adjacency, seed=seed, out_type="indices", verbose="error")
    ids = np.full(diffs.shape[1], -1)
    p_of = np.full(diffs.shape[1], np.nan)
    for k, (cl, p) in enumerate(zip(clusters, pvals)):
        ids[cl[0]] = k
        p_of[cl[0]] = p
    return t_obs, ids, p_of


def channel_pairs(rows: pd.DataFrame, sessions, *, reference="others", min_windows=3,
                  n_permutations=1024, cluster_p=0.05, montage="colin27_1020", seed=0,
                  selection="", edge_trim=0.0) -> pd.DataFrame:
    """group/channel_pairs.tsv (module doc) for every reporter/category/band/metric of
    ``rows`` (chosen by the caller, ``selection`` says how) on the dyads of ``sessions``."""
    rows_out = []
    for row in rows.itertuples():
        dyads, stack, names = pair_differences(sessions, row.reporter, row.category, reference,
                                               row.band, row.metric, min_windows, edge_trim)
        if stack is None or len(dyads) < 2:
            continue
        client_ch, therapist_ch = names
        flat = stack.reshape(len(dyads), -1)
        adj = pair_adjacency(channel_adjacency(client_ch, montage), channel_adjacency(therapist_ch, montage))
        t_obs, ids, p_of = cluster_test(flat, adj, n_permutations=n_permutations, cluster_p=cluster_p,
                                        seed=seed)
        est = flat.mean(axis=0)
        for k in range(flat.shape[1]):
            i, j = divmod(k, len(therapist_ch))
            rows_out.append(dict(reporter=row.reporter, category=row.category, reference=reference,
                                 band=row.band, metric=row.metric, client_channel=client_ch[i],
                                 therapist_channel=therapist_ch[j], n_dyads=len(dyads), estimate=est[k],
                                 t=t_obs[k], cluster=ids[k] if ids[k] >= 0 else np.nan, cluster_p=p_of[k],
                                 selection=selection))
    out = pd.DataFrame(rows_out, columns=PAIR_COLUMNS)
    out["cluster"] = out["cluster"].astype("Int64")
    return out


def channel_pairs_stage(contrasts_path, window_paths, synchrony_paths, config: dict, out_path) -> None:
    """Workflow stage: windows.tsv + synchrony.nc -> group/channel_pairs.tsv on the contrasts
    of ``stats.select_contrasts`` (``contrasts_path`` only orders the stage after stats)."""
    from .stats import select_contrasts
    from .windows import read_windows, write_tsv

    scfg = config["stats"]
    ccfg = scfg["channel_pairs"]
    tables = [read_windows(wp) for wp in window_paths]
    rows, fit_dyads, label = select_contrasts(tables, scfg, ccfg["top"])
    sessions = [(t, sp) for t, sp in zip(tables, synchrony_paths)
                if len(t) and str(t["dyad"].iloc[0]) in set(fit_dyads)]
    table = channel_pairs(rows, sessions, reference=scfg["reference"],
                          min_windows=scfg["min_windows"], n_permutations=scfg["n_permutations"],
                          cluster_p=ccfg["cluster_p"],
                          montage=config["preprocessing"].get("montage") or "colin27_1020",
                          seed=scfg["seed"], selection=label, edge_trim=scfg.get("edge_trim", 0.0))
    write_tsv(table, out_path)
