"""ELAN .eaf reader."""

from __future__ import annotations

from pathlib import Path

from .options import sheet_hint
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
                f"{ {Path(u).name: v for u, v in origins.items()} }; expected the media file whose clock "
                "the reports use, as " + sheet_hint("media", Path(next(iter(origins))).name))

    slots: dict = {}
    slot_order: list = []
    for ts in root.iter("TIME_SLOT"):
        v = ts.get("TIME_VALUE")
        sid = ts.get("TIME_SLOT_ID")
        slots[sid] = None if v is None else _seconds(v)
        if v is not None and (slots[sid] is None or slots[sid] < 0):
            problems.append(f"{path}: TIME_SLOT {sid!r}: TIME_VALUE {v!r} is not a number of milliseconds >= 0; "
                            "expected an aligned time or no TIME_VALUE (unaligned)")
            slots[sid] = None
        slot_order.append(sid)

    tier_el = {t.get("TIER_ID"): t for t in root.findall("TIER")}
    ltypes = {lt.get("LINGUISTIC_TYPE_ID"): (lt.get("CONSTRAINTS") or "") for lt in root.findall("LINGUISTIC_TYPE")}
    mapping: list[str] = []

    def reporter_of(tid, seen=()):
        t = tier_el.get(tid)
        if t is None or tid in seen:
            return tid, "tier id"
        part = (t.get("PARTICIPANT") or "").strip()
        if part:
            return part, "PARTICIPANT" if not seen else f"PARTICIPANT of parent tier {tid!r}"
        parent = t.get("PARENT_REF")
        if parent:
            return reporter_of(parent, seen + (tid,))
        return tid, "tier id" if not seen else f"tier id of parent tier {tid!r}"

    interpolated = _interpolate_slots(slots, slot_order, tier_el)

    # REF_ANNOTATIONs: value, referred annotation, tier, order (PREVIOUS_ANNOTATION chain)
    refs, ref_values, ref_tier, ref_prev = {}, {}, {}, {}
    for tid, t in tier_el.items():
        for ann in t.iter("REF_ANNOTATION"):
            aid = ann.get("ANNOTATION_ID")
            refs[aid] = ann.get("ANNOTATION_REF")
            ref_values[aid] = (ann.findtext("ANNOTATION_VALUE") or "").strip()
            ref_tier[aid] = tid
            ref_prev[aid] = ann.get("PREVIOUS_ANNOTATION")
    align_times = {}
    for t in tier_el.values():
        for ann in t.iter("ALIGNABLE_ANNOTATION"):
            align_times[ann.get("ANNOTATION_ID")] = (slots.get(ann.get("TIME_SLOT_REF1")),
                                                     slots.get(ann.get("TIME_SLOT_REF2")))
    ref_times = _ref_times(refs, ref_prev, ref_tier, align_times)

    ref_tiers = {tid for tid in ref_tier.values()}
    chosen = set(tiers) if tiers is not None else None
    # Reference tiers not chosen explicitly add their value to the text of the alignable
    # annotation they (transitively) refer to; chosen ones become rows of their own.
    dep_text: dict[str, list[str]] = {}
    for aid, val in ref_values.items():
        if chosen is not None and ref_tier[aid] in chosen:
            continue
        target, hops = refs[aid], 0
        while target in refs and hops < 100:
            target, hops = refs[target], hops + 1
        if val:
            dep_text.setdefault(target, []).append(val)

    if tiers is not None:
        unknown = [t for t in tiers if t not in tier_el]
        if unknown:
            problems.append(f"{path}: tier(s) {unknown} not found; expected some of {sorted(tier_el)} "
                            "(set them with " + sheet_hint("tiers", ",".join(sorted(tier_el)[:2])) + ")")
    records = []
    for tid, t in tier_el.items():
        constraint = ltypes.get(t.get("LINGUISTIC_TYPE_REF"), "")
        rep, why = reporter_of(tid)
        is_ref = tid in ref_tiers
        if chosen is not None and tid not in chosen:
            mapping.append(f"tier {tid!r}: not read (not in tiers)")
            continue
        if is_ref and chosen is None:
            mapping.append(f"tier {tid!r} ({constraint or 'reference'} tier): its values are added to the text "
                           f"of the parent annotations (name it in tiers to read it as codes)")
            continue
        how = f"reporter {rep} ({why})"
        n_interp = 0
        for ann in t.iter("ALIGNABLE_ANNOTATION"):
            aid = ann.get("ANNOTATION_ID")
            where = f"tier {tid!r}, annotation {aid}"
            s1, s2 = ann.get("TIME_SLOT_REF1"), ann.get("TIME_SLOT_REF2")
            t1, t2 = slots.get(s1), slots.get(s2)
            if t1 is None and s1 in interpolated:
                t1, n_interp = interpolated[s1], n_interp + 1
            if t2 is None and s2 in interpolated:
                t2, n_interp = interpolated[s2], n_interp + 1
            if t1 is None or t2 is None:
                problems.append(f"{path}: {where}: time slot {s1 if t1 is None else s2!r} has no TIME_VALUE and "
                                "no aligned neighbour to place it between; expected at least the first and "
                                "last boundary of the annotation chain aligned (align them in ELAN, or leave "
                                "the tier out with " + sheet_hint("tiers", "...") + ")")
                continue
            cat, text = _split_label(ann.findtext("ANNOTATION_VALUE") or "")
            more = dep_text.get(aid, [])
            text = " ".join([s for s in [text, *more] if s])
            onset = (t1 + origin_ms) / 1000.0
            records.append(_record(onset, (t2 - t1) / 1000.0, rep, cat, text, where, aid))
        for ann in t.iter("REF_ANNOTATION"):
            aid = ann.get("ANNOTATION_ID")
            where = f"tier {tid!r}, annotation {aid}"
            t1, t2 = ref_times.get(aid, (None, None))
            if t1 is None or t2 is None:
                problems.append(f"{path}: {where}: the annotation it refers to ({refs.get(aid)!r}) has no time; "
                                "expected a reference to an aligned annotation")
                continue
            cat, text = _split_label(ref_values[aid])
            if not cat:
                continue
            records.append(_record((t1 + origin_ms) / 1000.0, (t2 - t1) / 1000.0, rep, cat, text, where, aid))
        if is_ref:
            how += ", times of the parent annotations" + (
                " (symbolic subdivision: parent split evenly, as ELAN shows it)"
                if constraint == "Symbolic_Subdivision" else "")
        if n_interp:
            how += (f", {n_interp} annotation boundary(ies) on unaligned time slots placed between aligned "
                    "neighbours as ELAN shows them")
        mapping.append(f"tier {tid!r}" + (f" ({constraint})" if constraint else "") + f": {how}")
    if origin_ms:
        mapping.append(f"times on the media clock: TIME_ORIGIN {origin_ms:g} ms added")
    df = _finalize(path, records, problems)
    df.attrs["mapping"] = mapping
    return df


def _interpolate_slots(slots: dict, order: list, tier_el: dict) -> dict:
    """Times (ms) of unaligned time slots, placed as ELAN shows them.

    ELAN spaces the unaligned boundaries of a chain of annotations (a Time_Subdivision or
    Included_In tier whose boundaries the coder did not drag) evenly between the aligned
    boundaries around them. Per tier, chains are followed through shared slots
    (TIME_SLOT_REF2 of one annotation = TIME_SLOT_REF1 of the next); a run of k unaligned
    slots between aligned times a and b gets ``a + i * (b - a) / (k + 1)``, i = 1..k. A slot
    still unplaced (a chain with an unaligned end) is placed the same way between the aligned
    slots around it in TIME_ORDER (ELAN's global time order). Slots that have no aligned slot
    on one side stay unplaced.
    """
    out: dict = {}
    for t in tier_el.values():
        nxt, heads = {}, []
        ends = set()
        for ann in t.iter("ALIGNABLE_ANNOTATION"):
            s1, s2 = ann.get("TIME_SLOT_REF1"), ann.get("TIME_SLOT_REF2")
            nxt[s1] = s2
            ends.add(s2)
            heads.append(s1)
        for head in heads:
            if head in ends:
                continue
            chain, seen = [head], {head}
            while chain[-1] in nxt and nxt[chain[-1]] not in seen:
                chain.append(nxt[chain[-1]])
                seen.add(chain[-1])
            _fill_runs(chain, slots, out)
    _fill_runs(order, slots, out)
    return out


def _fill_runs(seq: list, slots: dict, out: dict) -> None:
    known = [(i, slots.get(s) if slots.get(s) is not None else out.get(s)) for i, s in enumerate(seq)]
    last = None
    for i, v in known:
        if v is None:
            continue
        if last is not None and i - last[0] > 1:
            a, b, k = last[1], v, i - last[0]
            for j in range(last[0] + 1, i):
                if seq[j] not in out and slots.get(seq[j]) is None:
                    out[seq[j]] = a + (j - last[0]) * (b - a) / k
        last = (i, v)


def _ref_times(refs: dict, prev: dict, tier: dict, align_times: dict) -> dict:
    """(start, end) ms of every REF_ANNOTATION: its parent's interval (Symbolic_Association),
    or for several annotations of one tier referring to the same parent (Symbolic_Subdivision)
    the parent's interval split evenly in their PREVIOUS_ANNOTATION order, as ELAN shows them."""
    times: dict = {}

    def resolve(aid, depth=0):
        if aid in times:
            return times[aid]
        if depth > 100:
            return (None, None)
        parent = refs.get(aid)
        if parent in align_times:
            p = align_times[parent]
        elif parent in refs:
            p = resolve(parent, depth + 1)
        else:
            p = (None, None)
        siblings = [a for a in refs if refs[a] == parent and tier[a] == tier[aid]]
        if len(siblings) > 1 and None not in p:
            # order by the PREVIOUS_ANNOTATION chain
            first = [a for a in siblings if not prev.get(a) or prev[a] not in siblings]
            ordered = []
            cur = first[0] if first else siblings[0]
            by_prev = {prev[a]: a for a in siblings if prev.get(a)}
            while cur is not None and cur not in ordered:
                ordered.append(cur)
                cur = by_prev.get(cur)
            ordered += [a for a in siblings if a not in ordered]
            step = (p[1] - p[0]) / len(ordered)
            for k, a in enumerate(ordered):
                times[a] = (p[0] + k * step, p[0] + (k + 1) * step)
            return times[aid]
        times[aid] = p
        return p

    for aid in refs:
        resolve(aid)
    return times
