"""ELAN .eaf reader."""

from __future__ import annotations

from pathlib import Path

from .common import ReportError, _finalize, _record, _seconds, _split_label


def _read_eaf(path: Path, tiers=None, media=None, apply_time_origin=True):
    import xml.etree.ElementTree as StdET

    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as SafeET

    try:
        root = SafeET.parse(str(path), forbid_dtd=True, forbid_entities=True, forbid_external=True).getroot()
    except DefusedXmlException as exc:
        raise ReportError(path, f"{path}: refused unsafe XML ({type(exc).__name__}: DTDs/entities are not "
                                "allowed); expected a plain ELAN .eaf document") from None
    except StdET.ParseError as exc:
        raise ReportError(path, f"{path}: line {exc.position[0]}: not well-formed XML ({exc}); "
                                "expected an ELAN .eaf document") from None
    except OSError as exc:
        raise ReportError(path, f"{path}: cannot read file ({exc}); expected a readable file") from None
    if root.tag != "ANNOTATION_DOCUMENT":
        raise ReportError(path, f"{path}: root element is <{root.tag}>; expected <ANNOTATION_DOCUMENT> (ELAN .eaf)")
    problems: list[str] = []
    header = root.find("HEADER")
    units = header.get("TIME_UNITS", "milliseconds") if header is not None else "milliseconds"
    if units != "milliseconds":
        problems.append(f"{path}: HEADER: TIME_UNITS={units!r}; expected 'milliseconds'")

    # TIME_ORIGIN: offset (ms) into a media file that corresponds to time 0
    # of the annotation timeline, i.e. media_time = annotation_time + origin.
    origin_ms = 0.0
    descs = header.findall("MEDIA_DESCRIPTOR") if header is not None else []
    origins = {}
    for d in descs:
        url = d.get("MEDIA_URL", "") or d.get("RELATIVE_MEDIA_URL", "")
        raw = d.get("TIME_ORIGIN")
        val = _seconds(raw) if raw is not None else 0.0
        if val is None:
            problems.append(f"{path}: MEDIA_DESCRIPTOR {url!r}: TIME_ORIGIN {raw!r}; expected milliseconds")
            val = 0.0
        origins[url] = val
    if apply_time_origin and origins:
        if media is not None:
            hits = [u for u in origins if u == media or Path(u).name == Path(media).name]
            if not hits:
                problems.append(f"{path}: media={media!r} matches no MEDIA_DESCRIPTOR; expected one of "
                                f"{sorted(origins)}")
            else:
                origin_ms = origins[hits[0]]
        elif len(set(origins.values())) == 1:
            origin_ms = next(iter(origins.values()))
        else:
            problems.append(
                f"{path}: media descriptors have different TIME_ORIGIN values "
                f"{ {Path(u).name: v for u, v in origins.items()} }; expected media=... naming the "
                "recording whose clock the reports use")

    slots = {}
    for ts in root.iter("TIME_SLOT"):
        v = ts.get("TIME_VALUE")
        slots[ts.get("TIME_SLOT_ID")] = None if v is None else _seconds(v)

    tier_el = {t.get("TIER_ID"): t for t in root.findall("TIER")}

    def reporter_of(tid, seen=()):
        t = tier_el.get(tid)
        if t is None or tid in seen:
            return tid
        part = (t.get("PARTICIPANT") or "").strip()
        if part:
            return part
        parent = t.get("PARENT_REF")
        return reporter_of(parent, seen + (tid,)) if parent else tid

    # texts from REF_ANNOTATIONs on dependent tiers, resolved to the
    # alignable annotation they (transitively) refer to
    refs, ref_values = {}, {}
    for ann in root.iter("REF_ANNOTATION"):
        refs[ann.get("ANNOTATION_ID")] = ann.get("ANNOTATION_REF")
        ref_values[ann.get("ANNOTATION_ID")] = (ann.findtext("ANNOTATION_VALUE") or "").strip()
    dep_text: dict[str, list[str]] = {}
    for aid, val in ref_values.items():
        target, hops = refs[aid], 0
        while target in refs and hops < 100:
            target, hops = refs[target], hops + 1
        if val:
            dep_text.setdefault(target, []).append(val)

    if tiers is not None:
        unknown = [t for t in tiers if t not in tier_el]
        if unknown:
            problems.append(f"{path}: tier(s) {unknown} not found; expected some of {sorted(tier_el)}")
    records = []
    for tid, t in tier_el.items():
        if tiers is not None and tid not in tiers:
            continue
        rep = reporter_of(tid)
        for ann in t.iter("ALIGNABLE_ANNOTATION"):
            aid = ann.get("ANNOTATION_ID")
            where = f"tier {tid!r}, annotation {aid}"
            t1, t2 = slots.get(ann.get("TIME_SLOT_REF1")), slots.get(ann.get("TIME_SLOT_REF2"))
            if t1 is None or t2 is None:
                problems.append(f"{path}: {where}: time slot without a (numeric) TIME_VALUE; expected "
                                "aligned annotations with times in ms")
                continue
            cat, text = _split_label(ann.findtext("ANNOTATION_VALUE") or "")
            more = dep_text.get(aid, [])
            text = " ".join([s for s in [text, *more] if s])
            onset = (t1 + origin_ms) / 1000.0
            records.append(_record(onset, (t2 - t1) / 1000.0, rep, cat, text, where, aid))
    return _finalize(path, records, problems)


