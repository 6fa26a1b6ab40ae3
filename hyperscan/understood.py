"""What ``hyperscan validate`` understood of a study, as a summary for a researcher to check:
the configuration that matters for reading results, each session's people and files, who
reported in each report file and how its times are put on the EEG clock, and the study's
reporters with their categories. (The per-file mapping of reporters and categories is
printed by validate itself, from ``StudyCheck.report_summaries``.)

Only reads what validation already accepted; a report file that cannot be read here is
reported as such (validation lists the reason)."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path


def _counts(values) -> str:
    c = Counter(map(str, values))
    return ", ".join(f"{k} ({n})" for k, n in sorted(c.items())) or "none"


def _clock(session) -> str:
    try:
        clock = session.report_clock()
    except Exception as exc:  # noqa: BLE001 - validate has already said what is wrong
        return f"clock not understood ({exc})"
    how = (f"fitted from {Path(session.report_clock_sync).name}" if session.report_clock_sync is not None
           else "from the sheet")
    return (f"EEG time = (report time - {clock.get('anchor', 0):g} s) x (1 + {clock.get('drift_ppm', 0):g} ppm) "
            f"+ {clock.get('offset', 0):g} s, {how}")


def describe_study(check) -> list[str]:
    """Lines describing ``check`` (a :class:`hyperscan.validate.StudyCheck` without problems)."""
    cfg = check.config or {}
    sessions = check.sessions
    lines = []
    if cfg:
        bands = ", ".join(f"{k} {v[0]:g}-{v[1]:g} Hz" for k, v in cfg.get("bands", {}).items())
        win = cfg.get("window", {})
        lines += [f"Sessions sheet: {cfg.get('sessions')}",
                  f"Outputs go to: {cfg.get('output_dir')}",
                  f"Bands: {bands}",
                  f"Measures: {', '.join(cfg.get('metrics', []))}",
                  f"Windows: {win.get('length')} s long, every {win.get('step')} s"]
    dyads = sorted({s.dyad for s in sessions})
    lines.append(f"People: {len(dyads)} dyad(s) ({', '.join(dyads)}), each a client and a therapist; "
                 f"{len(sessions)} session(s)")
    reporters: Counter = Counter()
    categories: dict[str, Counter] = {}
    for s in sessions:
        same = s.client == s.therapist
        who = (f"client and therapist both in {Path(s.client).name} "
               f"[{s.client_select or '?'} / {s.therapist_select or '?'}]" if same
               else f"client {Path(s.client).name}" + (f" [{s.client_select}]" if s.client_select else "")
               + f", therapist {Path(s.therapist).name}" + (f" [{s.therapist_select}]" if s.therapist_select else ""))
        lines.append(f"{s.key}: {who}")
        if s.reports is None:
            lines.append("    reports: none (this session enters no category contrast)")
        else:
            try:
                with warnings.catch_warnings():  # validate has printed the reader's warnings once, its own way
                    warnings.simplefilter("ignore")
                    rep = s.reports_on_eeg_clock()
            except Exception as exc:  # noqa: BLE001
                lines.append(f"    reports: {Path(s.reports).name}: not readable here ({exc})")
            else:
                who = ", ".join(sorted(map(str, set(rep.reporter))))
                lines.append(f"    reports: {Path(s.reports).name}: {len(rep)} report(s) by {who}")
                for reporter, block in rep.groupby("reporter", sort=True):
                    reporters[str(reporter)] += len(block)
                    categories.setdefault(str(reporter), Counter()).update(map(str, block.category))
                lines.append(f"    alignment: {_clock(s)}")
        if getattr(s, "ratings", None) is not None:
            lines.append(f"    ratings: {Path(s.ratings).name}")
    if reporters:
        lines.append("Reporters in the study (categories with their number of reports):")
        for r, n in sorted(reporters.items()):
            lines.append(f"  {r} ({n} reports): " + ", ".join(f"{c} ({k})" for c, k in sorted(categories[r].items())))
    else:
        lines.append("Reporters in the study: none (no report files): synchrony and null models only")
    return lines
