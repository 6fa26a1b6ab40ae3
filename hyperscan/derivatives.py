"""BIDS derivatives out (config ``output_layout: bids``): an entity-named view of the outputs.

The workflow computes in its plain layout (``{dyad}/{session}/...``, ``group/``); with
``output_layout: bids`` this stage then files every result in ``output_dir`` as a BIDS
derivative dataset (BIDS specification, "Derivatives"; ``output_dir`` is typically
``<bids root>/derivatives/hyperscan``):

* ``dataset_description.json``: ``DatasetType: derivative``, ``GeneratedBy`` (hyperscan and
  its version) and ``SourceDatasets`` (the BIDS root, or the sessions sheet's folder);
* per session ``sub-<dyad>/ses-<session>/eeg/sub-<dyad>_ses-<session>[_desc-<label>]_<suffix>.<ext>``:
  ``_synchrony.nc``, ``_windows.tsv``, ``_nulls.tsv``, ``_directional.tsv``,
  ``_desc-categories_directional.tsv``, ``_person.tsv``, ``_qc.json``, ``_desc-page_qc.html``,
  ``_desc-mne_qc.html`` (and the ratings tables when present). BIDS has no dyad entity
  (bids-specification#402): a dyad's results are filed under a subject label equal to the dyad id;
* per person the cleaned EEG (``_desc-preproc_eeg.fif`` with a BIDS-EEG sidecar) and the fitted
  ICA (``_desc-preproc_ica.fif``) under the person's own BIDS entities when the recording is a
  BIDS file (``sub-01_ses-1_task-music_desc-preproc_eeg.fif``; ``desc-clientPreproc`` /
  ``desc-therapistPreproc`` when one recording holds both people), else under
  ``sub-<dyad>_ses-<session>_task-hyperscan_desc-<person>Preproc``;
* group results at the top level: ``desc-<name>_stats.tsv`` (contrasts, dyadContrasts,
  mixedModels, surrogates, channelPairs, directional, personMeasures, ratings);
* every TSV with its JSON sidecar (:mod:`hyperscan.sidecars`), every other file with a JSON
  sidecar naming its ``Sources`` and ``Description``;
* ``.bidsignore`` listing the plain-layout folders, the suffixes BIDS does not define and the
  cleaned FIF recordings (FIF is not a BIDS-EEG format), so the bids-validator (3.0.2, PyPI
  ``bids-validator-deno``) checks the rest and reports no error; a ``README.md``.

Files are hard links to the plain-layout outputs when the file system allows (no extra
space), copies otherwise. :func:`check_derivatives` is the structural check used by the
tests (the bids-validator needs Deno, which is not a Python package dependency here).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from . import __version__

__all__ = ["SESSION_FILES", "GROUP_FILES", "write_derivatives", "check_derivatives"]

#: plain-layout name in {dyad}/{session}/ -> (desc or None, suffix, extension, description)
SESSION_FILES = {
    "synchrony.nc": (None, "synchrony", ".nc", "inter-brain synchrony per band, window and channel pair"),
    "windows.tsv": (None, "windows", ".tsv", "windows with synchrony summary and report categories"),
    "nulls.tsv": (None, "nulls", ".tsv", "real vs pseudo-dyad and phase-randomised synchrony per window"),
    "directional.tsv": (None, "directional", ".tsv", "phase slope index per window and band"),
    "directional_categories.tsv": ("categories", "directional", ".tsv", "phase slope per report category"),
    "person.tsv": (None, "person", ".tsv", "per-person measures per window"),
    "ratings.tsv": (None, "ratings", ".tsv", "lagged correlation of the continuous rating with synchrony"),
    "ratings_null.tsv": ("null", "ratings", ".tsv", "circular-shift surrogates of the rating correlation"),
    "qc.html": ("page", "qc", ".html", "QC page"),
    "preprocessed/qc.json": (None, "qc", ".json", "QC numbers (bad channels, ICA, data kept)"),
    "preprocessed/report.html": ("mne", "qc", ".html", "QC as an mne.Report"),
}
#: per-person files: plain name in {dyad}/{session}/preprocessed/ -> (suffix, extension, what)
PERSON_FILES = {
    "{person}_raw.fif": ("eeg", ".fif", "cleaned EEG (volts; hyperscan.preprocess)"),
    "{person}-ica.fif": ("ica", ".fif", "fitted ICA (mne.preprocessing.read_ica; exclude = removed)"),
}
#: Suffixes BIDS does not define: listed in .bidsignore so a validator checks the rest.
CUSTOM_SUFFIXES = ("synchrony", "windows", "nulls", "directional", "person", "ratings", "qc", "ica", "stats")
GROUP_FILES = {
    "contrasts.tsv": "contrasts", "dyad_contrasts.tsv": "dyadContrasts", "mixed_models.tsv": "mixedModels",
    "surrogates.tsv": "surrogates", "channel_pairs.tsv": "channelPairs", "directional.tsv": "directional",
    "person_measures.tsv": "personMeasures", "ratings.tsv": "ratings", "overview.tsv": "overview",
    "joint_display.tsv": "jointDisplay",
}
ENTITIES = ("sub", "ses", "task", "acq", "run", "desc")
_NAME = re.compile(r"^(?P<ents>(?:[a-z]+-[A-Za-z0-9]+_)*)(?P<suffix>[A-Za-z0-9]+)(?P<ext>(?:\.[A-Za-z0-9]+)+)$")


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _stem(dyad, session, desc):
    return f"sub-{dyad}_ses-{session}" + (f"_desc-{desc}" if desc else "")


def _sidecar_for(src: Path, dst: Path, description: str, sources: list[str]) -> None:
    json_path = dst.with_suffix(".json") if dst.suffix != ".json" else None
    if dst.suffix == ".tsv":
        side = src.with_suffix(".json")
        if side.is_file():  # the column dictionary written with the TSV
            _place(side, dst.with_suffix(".json"))
            return
        import pandas as pd

        from .sidecars import write_sidecar

        write_sidecar(pd.read_csv(src, sep="\t", dtype=str, keep_default_na=False), dst, name=src.stem)
        return
    if json_path is not None:
        json_path.write_text(json.dumps({"Description": description, "Sources": sources}, indent=2) + "\n")


def derivatives_stage(out_dir, sessions, config: dict, done_path) -> None:
    """Workflow stage (``output_layout: bids``): :func:`write_derivatives`."""
    import logging

    paths = write_derivatives(out_dir, sessions, config, done_path)
    logging.getLogger(__name__).info("BIDS derivatives: %d files filed under %s", len(paths), out_dir)


def _person_entities(session, person: str, out: Path) -> tuple[str, Path]:
    """(entity stem, folder) of one person's files: the BIDS entities of the person's own
    recording when it is a BIDS file (``desc-preproc``, or ``desc-<person>Preproc`` when one
    recording holds both people), else ``sub-<dyad>_ses-<session>_task-hyperscan_desc-<person>Preproc``."""
    path = Path(getattr(session, person))
    shared = Path(session.client) == Path(session.therapist)
    desc = f"{person}Preproc" if shared else "preproc"
    try:
        import mne_bids

        bp = mne_bids.get_bids_path_from_fname(path, check=False, verbose="error")
    except Exception:  # noqa: BLE001 - not a BIDS file name
        bp = None
    if bp is not None and bp.subject and bp.task and path.name.startswith("sub-"):
        parts = [f"sub-{bp.subject}"] + ([f"ses-{bp.session}"] if bp.session else []) + [f"task-{bp.task}"]
        parts += ([f"acq-{bp.acquisition}"] if bp.acquisition else []) + ([f"run-{bp.run}"] if bp.run else [])
        folder = out / f"sub-{bp.subject}" / (f"ses-{bp.session}" if bp.session else "") / "eeg"
        return "_".join(parts + [f"desc-{desc}"]), folder
    stem = f"sub-{session.dyad}_ses-{session.session}_task-hyperscan_desc-{person}Preproc"
    return stem, out / f"sub-{session.dyad}" / f"ses-{session.session}" / "eeg"


def _eeg_sidecar(src: Path, dst: Path, config: dict, sources: list[str]) -> None:
    """The BIDS-EEG sidecar of a cleaned recording (REQUIRED fields of eeg.json)."""
    import mne

    info = mne.io.read_info(src, verbose="error")
    pre = config.get("preprocessing", {})
    notch = pre.get("notch") or []
    task = dst.name.split("task-", 1)[1].split("_", 1)[0] if "task-" in dst.name else "hyperscan"
    doc = {
        "TaskName": task,
        "SamplingFrequency": float(info["sfreq"]),
        "EEGReference": "average" if pre.get("reference") == "average" else str(pre.get("reference")),
        "PowerLineFrequency": float(notch[0]) if notch else "n/a",
        "SoftwareFilters": {"band-pass (FIR, zero phase)": {"l_freq": pre.get("l_freq"), "h_freq": pre.get("h_freq")},
                            "notch": {"freqs": notch}},
        "Description": "cleaned EEG: bad channels repaired, eye components removed by ICA, BAD_amplitude "
                       "annotations (hyperscan.preprocess)",
        "Sources": sources,
    }
    dst.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")


def _source_dataset(config: dict, sessions, out: Path) -> Path:
    """The BIDS dataset the recordings come from (``bids_root``, else the nearest folder above
    the first recording holding a dataset_description.json, e.g. when ``hyperscan init
    --bids`` wrote the sheet), else the sessions sheet's folder."""
    if config.get("bids_root"):
        return Path(config["bids_root"]).resolve()
    out = out.resolve()
    for s in sessions[:1]:
        for folder in Path(s.client).resolve().parents:
            if (folder / "dataset_description.json").is_file() and folder != out:
                return folder
    return Path(config["sessions"]).resolve().parent


def write_derivatives(out_dir, sessions, config: dict, done_path=None) -> list[Path]:
    """File the plain-layout outputs of ``out_dir`` as a BIDS derivative dataset (module doc).

    ``sessions``: the study's :class:`hyperscan.sessions.Session` objects. Returns the paths
    written (``dataset_description.json`` last, so its presence means the view is complete).
    """
    out = Path(out_dir)
    written: list[Path] = []
    for s in sessions:
        base = out / s.dyad / s.session
        sources = [str(p) for p in (s.client, s.therapist)]
        for name, (desc, suffix, ext, what) in SESSION_FILES.items():
            src = base / name
            if not src.is_file():
                continue
            dst = out / f"sub-{s.dyad}" / f"ses-{s.session}" / "eeg" / f"{_stem(s.dyad, s.session, desc)}_{suffix}{ext}"
            _place(src, dst)
            _sidecar_for(src, dst, what, sources)
            written.append(dst)
        for person in ("client", "therapist"):
            ents, folder = _person_entities(s, person, out)
            for name, (suffix, ext, what) in PERSON_FILES.items():
                src = base / "preprocessed" / name.format(person=person)
                if not src.is_file():
                    continue
                dst = folder / f"{ents}_{suffix}{ext}"
                _place(src, dst)
                if suffix == "eeg":
                    _eeg_sidecar(src, dst, config, sources)
                else:
                    _sidecar_for(src, dst, f"the {person}'s {what}", sources)
                written.append(dst)
    for name, desc in GROUP_FILES.items():
        src = out / "group" / name
        if src.is_file():
            dst = out / f"desc-{desc}_stats.tsv"
            _place(src, dst)
            _sidecar_for(src, dst, desc, [])
            written.append(dst)
    # (folder names without a trailing slash: the bids-validator 3 ignores "D01", not "D01/")
    ignore = sorted({s.dyad for s in sessions} | {"group", "logs", "benchmarks", ".snakemake"})
    ignore += [f"*_{suffix}.*" for suffix in CUSTOM_SUFFIXES]
    # MNE FIF is not a BIDS-EEG format, so the cleaned recordings cannot pass as BIDS EEG
    ignore += [f"*_desc-{d}_eeg.*" for d in ("preproc", "clientPreproc", "therapistPreproc")]
    (out / ".bidsignore").write_text("\n".join(ignore) + "\n")
    (out / "README.md").write_text(
        "# hyperscan derivatives\n\nInter-brain synchrony of hyperscanning dyads computed by hyperscan "
        f"{__version__} (BIDS-derivatives layout, see hyperscan.derivatives). Per-person cleaned EEG "
        "is filed under each person's subject; dyad-level results under sub-<dyad> (BIDS has no dyad "
        "entity); group tables as desc-<name>_stats.tsv. Suffixes BIDS does not define are listed in "
        ".bidsignore.\n")
    source = _source_dataset(config, sessions, out)
    description = {
        "Name": "hyperscan inter-brain synchrony",
        "BIDSVersion": "1.10.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "hyperscan", "Version": __version__,
                         "Description": "EEG hyperscanning: preprocessing, inter-brain synchrony per band "
                                        "and window, experience-report contrasts"}],
        "SourceDatasets": [{"URL": source.as_uri()}],
    }
    dd = Path(done_path) if done_path else out / "dataset_description.json"
    dd.write_text(json.dumps(description, indent=2) + "\n")
    written.append(dd)
    return written


def check_derivatives(root) -> list[str]:
    """Structural check of a BIDS derivative folder; [] when it passes.

    dataset_description.json (Name, BIDSVersion, DatasetType derivative, GeneratedBy with
    Name, SourceDatasets); every file outside ``.bidsignore``d folders named
    ``key-value_..._suffix.ext`` with known entities in BIDS order, ``sub``/``ses`` matching
    its folders; every ``.tsv`` with a ``.json`` sidecar describing each of its columns.
    """
    root = Path(root)
    out = []
    dd = root / "dataset_description.json"
    if not dd.is_file():
        return [f"{dd}: missing"]
    desc = json.loads(dd.read_text())
    for key in ("Name", "BIDSVersion", "GeneratedBy", "SourceDatasets"):
        if not desc.get(key):
            out.append(f"{dd}: no {key}")
    if desc.get("DatasetType") != "derivative":
        out.append(f"{dd}: DatasetType is not derivative")
    if not all(g.get("Name") for g in desc.get("GeneratedBy", [])):
        out.append(f"{dd}: GeneratedBy entry without Name")
    ignore = [line.strip().rstrip("/") for line in (root / ".bidsignore").read_text().splitlines()
              if line.strip() and "*" not in line] if (root / ".bidsignore").is_file() else []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or rel.parts[0] in ignore or rel.name in ("dataset_description.json", ".bidsignore", "README.md"):
            continue
        m = _NAME.match(rel.name)
        if not m:
            out.append(f"{rel}: not an entity-named file")
            continue
        pairs = [p.split("-", 1) for p in m["ents"].rstrip("_").split("_") if p]
        keys = [k for k, _ in pairs]
        if any(k not in ENTITIES for k in keys) or keys != sorted(keys, key=ENTITIES.index):
            out.append(f"{rel}: entities {keys} unknown or out of BIDS order {ENTITIES}")
        ents = dict(pairs)
        if len(rel.parts) > 1:
            if rel.parts[0] != f"sub-{ents.get('sub')}" or (len(rel.parts) > 3 and rel.parts[1] != f"ses-{ents.get('ses')}"):
                out.append(f"{rel}: sub/ses entities do not match its folders")
        if path.suffix == ".tsv":
            side = path.with_suffix(".json")
            if not side.is_file():
                out.append(f"{rel}: no JSON sidecar")
                continue
            header = path.read_text().splitlines()[0].split("\t")
            described = json.loads(side.read_text())
            missing = [c for c in header if c not in described or not described[c].get("Description")]
            if missing:
                out.append(f"{rel}: sidecar lacks column(s) {missing}")
        elif path.suffix != ".json" and not path.with_suffix(".json").is_file():
            out.append(f"{rel}: no JSON sidecar")
    return out
