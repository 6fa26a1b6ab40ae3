"""Every TSV of a run has a JSON sidecar that really describes every column (hyperscan.sidecars)."""

import json
import re
from pathlib import Path

#: Columns whose values carry a unit, and the unit (BIDS/CF spelling).
UNIT_OF = [(re.compile(r"^(start|end|window_start|window_end|time)$"), "s"), (re.compile(r"_s$"), "s"),
           (re.compile(r"_ms$|^(lag|lag_early|lag_late|change)_ci_(low|high)$"), "ms"),
           (re.compile(r"_hz$", re.I), "Hz"), (re.compile(r"_pct$"), "%")]
#: Columns that are categorical wherever they appear: their sidecar lists the values found.
CATEGORICAL = {"dyad", "session", "band", "metric", "reporter", "person", "measure", "group_test", "leader"}


def sidecar_problems(folder) -> list[str]:
    """Each TSV under ``folder`` (Snakemake's benchmarks excluded) without a sidecar, and each
    column whose entry lacks a description of substance, its unit or its levels."""
    out = []
    for tsv in sorted(Path(folder).rglob("*.tsv")):
        if "benchmarks" in tsv.parts:
            continue
        side_path = tsv.with_suffix(".json")
        if not side_path.is_file():
            out.append(f"{tsv}: no sidecar")
            continue
        side = json.loads(side_path.read_text())
        header = tsv.read_text().split("\n", 1)[0].split("\t")
        values = [line.split("\t") for line in tsv.read_text().splitlines()[1:]]
        for k, col in enumerate(header):
            entry = side.get(col)
            if entry is None:
                out.append(f"{tsv.name}: column {col} not in the sidecar")
                continue
            desc = entry.get("Description", "")
            if "see the README" in desc or desc.strip().lower() in (col.lower(), col.replace("_", " ").lower()) \
                    or len(desc) < 25:
                out.append(f"{tsv.name}: column {col}: no description of substance ({desc!r})")
            unit = next((u for pattern, u in UNIT_OF if pattern.search(col)), None)
            if unit and entry.get("Units") != unit:
                out.append(f"{tsv.name}: column {col}: Units {entry.get('Units')!r}, expected {unit!r}")
            found = {row[k] for row in values if k < len(row)} - {"", "n/a"}
            if col in CATEGORICAL and found and set(entry.get("Levels", {})) != found:
                out.append(f"{tsv.name}: column {col}: Levels {sorted(entry.get('Levels', {}))} but values "
                           f"{sorted(found)}")
    return out
