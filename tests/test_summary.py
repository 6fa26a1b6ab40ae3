"""summary.html: every section, figure files, TSV tables, redaction, and a real browser."""

import base64
import io
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from hyperscan.config import validate_config
from hyperscan.directional import GROUP_COLUMNS
from hyperscan.nulls import NULL_COLUMNS, surrogate_summary
from hyperscan.person import person_contrasts
from hyperscan.stats import dyad_contrasts, group_contrasts, mixed_models
from hyperscan.summary import build_summary, redact_excerpts
from hyperscan.summary_figures import FigureSink

TEXTS = {"connected": "We were breathing together in the music",
         "attuned": "I matched her tempo and felt us lock in"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _inputs(n_dyads=3, n=60):
    rng = np.random.default_rng(0)
    tables, nulls, person, reports = [], [], [], []
    for d in range(n_dyads):
        dyad = f"D{d}"
        lab_c = np.array(["n/a"] * n, dtype=object)
        lab_c[10:25] = "connected"
        lab_t = np.where(lab_c == "connected", "attuned", "n/a").astype(object)
        both = []
        for metric in ("plv", "envcorr"):
            value = 0.3 + 0.1 * (lab_c == "connected") + 0.02 * rng.normal(size=n)
            both.append(pd.DataFrame({"dyad": dyad, "session": "S1", "band": "alpha", "metric": metric,
                                        "start": np.arange(n, dtype=float), "end": np.arange(n) + 2.0,
                                        "value": value, "excluded": 0, "client_category": lab_c,
                                        "therapist_category": lab_t}))
        tables.append(pd.concat(both, ignore_index=True))
        block = both[0]
        null = block[["start", "end", "excluded", "value"]].assign(dyad=dyad, session="S1", band="alpha", metric="plv",
                           pseudo_value=0.3 + 0.02 * rng.normal(size=n), n_pseudo=2, pseudo_mean=0.3,
                           pseudo_sd=0.02, pseudo_low=0.26, pseudo_high=0.34, n_phase=2, phase_mean=0.29,
                           phase_sd=0.02, phase_low=0.25, phase_high=0.33)
        null["z_pseudo"] = (null.value - 0.3) / 0.02
        null["z_phase"] = (null.value - 0.29) / 0.02
        null = null[NULL_COLUMNS]
        nulls.append(null)
        person.append(pd.DataFrame({"dyad": dyad, "session": "S1", "person": "client", "measure": "faa",
                                    "start": np.arange(n, dtype=float), "end": np.arange(n) + 2.0,
                                    "value": rng.normal(size=n), "excluded": 0, "client_category": lab_c}))
        for k, (reporter, category) in enumerate((("client", "connected"), ("therapist", "attuned"))):
            reports.append(dict(onset=10.0, duration=15.0, reporter=reporter, category=category,
                                text=f"{TEXTS[category]} ({dyad})", report_id=f"{dyad}_reports:{k + 2}",
                                dyad=dyad, session="S1"))
    chans = ["F3", "Fz", "F4", "C3", "Cz", "C4"]
    pairs = pd.DataFrame([dict(reporter="client", category="connected", reference="unlabelled", band="alpha",
                               metric="plv", client_channel=c, therapist_channel=t, n_dyads=n_dyads,
                               estimate=0.1 if c in ("Fz", "Cz") else 0.01, t=3.0, cluster=0 if c == "Fz" else np.nan,
                               cluster_p=0.03 if c == "Fz" else np.nan) for c in chans for t in chans])
    directional = pd.DataFrame([dict(zip(GROUP_COLUMNS, ["client", "connected", "alpha", n_dyads, 45, 24.0, 18.0,
                                                         30.0, 0.008, 0.006, 0.01, 0.03, 2.3, "therapist"])),
                                dict(zip(GROUP_COLUMNS, ["client", "n/a", "alpha", n_dyads, 105, -3.0, -40.0,
                                                         35.0, -0.0001, -0.001, 0.001, 0.8, -0.2, "neither"]))])
    contrasts = group_contrasts(tables, n_permutations=199, n_bootstrap=99)
    return dict(contrasts=contrasts, window_tables=tables, reports=pd.DataFrame(reports),
                qc=[{"dyad": f"D{d}", "session": "S1", "client": {"bad_channels": {"C3": "flat"}}}
                    for d in range(n_dyads)],
                dyad_diffs=dyad_contrasts(tables), surrogates=surrogate_summary(nulls, n_permutations=99,
                                                                                n_bootstrap=99),
                nulls=nulls, directional=directional,
                person=person_contrasts(person, n_permutations=99, n_bootstrap=99),
                channel_pairs=pairs, mixed=mixed_models(tables))


def _page(tmp_path, redact=False):
    inp = _inputs()
    config = validate_config({"summary": {"redact_excerpts": redact}})
    sink = FigureSink(tmp_path / "figures", ["png", "svg"])
    page = build_summary(inp.pop("contrasts"), inp.pop("window_tables"), inp.pop("reports"), inp.pop("qc"),
                         config, figures=sink, tables_dir=tmp_path, input_checksums={"a.edf": "0" * 64}, **inp)
    (tmp_path / "summary.html").write_text(page, encoding="utf-8")
    return page, sink


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
        if tag == "a":
            self.links.append(attrs.get("href", ""))


def _decoded_pngs(page):
    parser = _Images()
    parser.feed(page)
    images = []
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,"), src[:40]
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw.startswith(PNG_MAGIC)
        images.append(matplotlib.image.imread(io.BytesIO(raw), format="png"))  # decodes every pixel
    return images, parser.links


def test_summary_has_every_section_figure_file_and_table(tmp_path):
    page, sink = _page(tmp_path)
    for heading in ("Study overview", "Null models", "Strongest contrasts", "Joint display",
                    "Who leads?", "Per-person measures", "Inter-brain matrices", "Linear mixed models",
                    "Session time courses", "Provenance"):
        assert f"{heading}" in page, heading
    images, links = _decoded_pngs(page)
    # estimation, null models, directional, person, channel pairs, 3 time courses
    assert len(images) == 8 and all(im.shape[0] > 50 and im.shape[1] > 50 for im in images)
    assert [u for u in links if not u.startswith("#")] == [f"../D{d}/S1/qc.html" for d in range(3)]
    pngs = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    svgs = sorted(p.name for p in (tmp_path / "figures").glob("*.svg"))
    assert len(pngs) == len(svgs) == 8 and [p[:-4] for p in pngs] == [s[:-4] for s in svgs]
    assert all((tmp_path / "figures" / p).read_bytes().startswith(PNG_MAGIC) for p in pngs)
    assert all(b"<svg" in (tmp_path / "figures" / s).read_bytes()[:2000] for s in svgs)
    joint = pd.read_csv(tmp_path / "joint_display.tsv", sep="\t")
    row = joint[(joint.reporter == "client") & (joint.category == "connected")].iloc[0]
    assert row.n_dyads == 3 and row.n_windows == 45 and row.estimate == pytest.approx(0.1, abs=0.02)
    assert row.z_pseudo_windows == pytest.approx(5.0, abs=1.0)  # (0.4 - 0.3) / 0.02 in its windows
    overview = pd.read_csv(tmp_path / "overview.tsv", sep="\t")
    assert list(overview.client_bad_channels) == ["C3"] * 3 and (overview.windows == 60).all()
    # client and therapist excerpts side by side, with report ids
    assert TEXTS["connected"] in page and TEXTS["attuned"] in page and "D0_reports:2" in page
    block = page[page.index("client — <q>connected</q>"):]
    block = block[: block.index("<h3>", 10)]
    assert block.index("<h4>client</h4>") < block.index(TEXTS["connected"]) < block.index("<h4>therapist</h4>") \
        < block.index(TEXTS["attuned"])


def test_redacted_page_has_report_ids_and_no_excerpt_text(tmp_path):
    page, _ = _page(tmp_path, redact=True)
    for text in TEXTS.values():
        assert text.lower() not in page.lower()
    assert "[redacted: report D0_reports:2]" in page and "D2_reports:3" in page
    red = redact_excerpts(pd.DataFrame({"text": ["secret", ""], "report_id": ["f:2", "f:3"]}))
    assert list(red.text) == ["[redacted: report f:2]", ""]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# .ci/run installs chromium and sets HYPERSCAN_REQUIRE_CHROMIUM=1, so CI never skips this.
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("HYPERSCAN_REQUIRE_CHROMIUM"),
                    reason="chromium is not installed")
def test_page_renders_in_headless_chromium(tmp_path):
    _page(tmp_path)
    url = (tmp_path / "summary.html").as_uri()
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}", "--window-size=1200,3000"]
    shot = tmp_path / "shot.png"
    subprocess.run(flags + [f"--screenshot={shot}", url], check=True, capture_output=True, timeout=120)
    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (3000, 1200)
    assert image[..., :3].std() > 0.05  # not a blank page: text, tables and figures drawn
    dom = subprocess.run(flags + ["--dump-dom", url], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    assert "hyperscan — mixed-methods summary" in dom and re.search(r"<h2>Null models", dom)
    images, _ = _decoded_pngs(dom)  # the browser's DOM: every <img> a data: PNG that decodes
    assert len(images) == 8


def test_shared_stimulus_note_needs_pseudo_dyads_inseparable():
    from hyperscan.summary import _shared_stimulus_note

    rows = pd.DataFrame({
        "band": ["delta", "alpha", "beta"], "metric": ["plv"] * 3,
        "p_phase": [0.01, 0.01, 0.5], "real_minus_phase": [0.05, 0.03, 0.0],
        # delta: real = pseudo (shared music); alpha: real > pseudo by its CI although the
        # 6-dyad sign-flip p cannot reach 0.05; beta: not above the phase null at all.
        "p_pseudo": [0.8, 0.094, 0.5], "pseudo_ci_low": [-0.01, 0.003, -0.02],
        "real_minus_pseudo": [0.0, 0.02, 0.0],
    })
    note = _shared_stimulus_note(rows)
    assert "Shared-stimulus synchrony" in note and "delta plv" in note
    assert "alpha" not in note and "beta" not in note
    assert "No band/metric" in _shared_stimulus_note(rows.iloc[1:])


# ---------------------------------------------------------------------------------------------
# The page as a reader uses it: a real headless browser (Playwright driving Debian's chromium),
# offline, every request refused and recorded.

CHROMIUM_BIN = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else CHROMIUM
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
needs_browser = pytest.mark.skipif(
    CHROMIUM_BIN is None and not os.environ.get("HYPERSCAN_REQUIRE_CHROMIUM"),
    reason="chromium is not installed")


class Browser:
    """One page in headless chromium; ``errors`` collects script errors and console errors,
    ``requests`` every request that is not the page file itself or a data: URI."""

    def __init__(self, url, width=1200, height=900):
        if os.environ.get("HYPERSCAN_REQUIRE_CHROMIUM"):  # CI: a missing driver is a failure
            import playwright.sync_api as sync_api
        else:
            sync_api = pytest.importorskip("playwright.sync_api")
        self._pw = sync_api.sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM_BIN, args=CHROMIUM_ARGS)
        self.context = self.browser.new_context(viewport={"width": width, "height": height}, offline=True)
        self.errors, self.requests, self.dialogs = [], [], []
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def route(r):
            if r.request.url != url and not r.request.url.startswith("data:"):
                self.requests.append(r.request.url)
                return r.abort()
            return r.continue_()

        self.page.route("**/*", route)
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def close(self):
        self.context.close()
        self.browser.close()
        self._pw.stop()


@pytest.fixture
def browser_page(tmp_path):
    _page(tmp_path)
    b = Browser((tmp_path / "summary.html").as_uri())
    yield b
    b.close()


def _view(page, key):
    svg = page.locator(f'.timecourse[data-session="{key}"] svg')
    return float(svg.get_attribute("data-t0")), float(svg.get_attribute("data-t1")), svg.get_attribute("data-focus")


@needs_browser
def test_clicking_an_excerpt_moves_its_time_course_to_it(browser_page):
    page = browser_page.page
    button = page.locator("#joint button.excerpt").first
    key, onset = button.get_attribute("data-session"), float(button.get_attribute("data-onset"))
    t0, t1, focus = _view(page, key)
    assert (t0, t1, focus) == (0.0, 61.0, None)  # 60 windows of 2 s, step 1 s: the whole session
    button.click()
    t0, t1, focus = _view(page, key)
    assert t1 - t0 < 61.0 - 1 and t0 <= onset <= t1 and float(focus) == onset
    # the marker line is drawn where the excerpt starts
    marker = page.locator(f'.timecourse[data-session="{key}"] line.tc-focus')
    assert marker.count() == 1
    # hovering the moment shows the excerpt; the tip is text, not HTML
    box = page.locator(f'.timecourse[data-session="{key}"] svg').bounding_box()
    x = box["x"] + box["width"] * (70 + (onset + 2 - t0) / (t1 - t0) * (1000 - 82)) / 1000
    page.mouse.move(x, box["y"] + box["height"] * 0.3)
    tip = page.locator(f'.timecourse[data-session="{key}"] .tc-tip')
    assert tip.is_visible() and TEXTS["connected"] in tip.text_content()
    # zoom: the wheel narrows the time axis, double-click restores the whole session
    page.mouse.wheel(0, -200)
    n0, n1, _ = _view(page, key)
    assert n1 - n0 < t1 - t0
    page.mouse.dblclick(x, box["y"] + box["height"] * 0.3)
    assert _view(page, key)[:2] == (0.0, 61.0)
    assert browser_page.errors == [] and browser_page.requests == []


@needs_browser
def test_tables_sort_and_filter_without_errors_or_network(browser_page):
    page = browser_page.page
    header = page.locator("#t-contrasts th", has_text="Difference")
    column = [h.get_attribute("data-key") for h in page.locator("#t-contrasts th").all()].index("estimate")

    def values():
        cells = page.locator(f"#t-contrasts tbody tr td:nth-child({column + 1})").all()
        return [float(c.get_attribute("data-sort")) for c in cells]

    before = values()
    header.click()
    assert values() == sorted(before) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert values() == sorted(before, reverse=True)
    page.locator('input.filter[data-table="t-contrasts"]').fill("therapist")
    visible = [r for r in page.locator("#t-contrasts tbody tr").all() if r.is_visible()]
    assert visible and all("therapist" in r.text_content() for r in visible)
    assert len(visible) < len(before)
    # the key column stays in view while the table scrolls sideways
    assert page.locator("#t-contrasts td").first.evaluate("e => getComputedStyle(e).position") == "sticky"
    assert browser_page.errors == [] and browser_page.requests == [] and browser_page.dialogs == []


KEY_COLUMNS = ("category", "band", "metric", "estimate", "ci", "p", "q")


def _column_boxes(page, tid):
    """Per header of table ``tid``: data-key -> (left, right, visible), and the box that scrolls it."""
    return page.evaluate("""tid => {
        const t = document.getElementById(tid), box = t.closest('.scroll').getBoundingClientRect();
        const cols = {};
        for (const h of t.tHead.rows[0].cells) {
            const r = h.getBoundingClientRect();
            cols[h.dataset.key] = [r.left, r.right, r.width > 0 && getComputedStyle(h).display !== 'none'];
        }
        const s = t.closest('.scroll');
        return {cols, left: box.left, right: box.right, overflow: s.scrollWidth - s.clientWidth,
                viewport: document.documentElement.clientWidth};
    }""", tid)


@needs_browser
@pytest.mark.parametrize("n_dyads", [1, 3])
@pytest.mark.parametrize("width", [1400, 1024])
def test_contrasts_key_columns_fit_the_screen_without_scrolling(tmp_path, n_dyads, width):
    inp = _with_point_event(_inputs(n_dyads=n_dyads))  # long notes, rows that lost dyads
    _build(tmp_path, inp)
    b = Browser((tmp_path / "summary.html").as_uri(), width=width)
    try:
        page = b.page
        m = _column_boxes(page, "t-contrasts")
        keys = KEY_COLUMNS + (("p_shift",) if n_dyads == 1 else ())
        for key in keys:
            left, right, visible = m["cols"][key]
            assert visible and left >= m["left"] - 0.5 and right <= min(m["right"], m["viewport"]) + 0.5, (key, m)
        if width == 1400:
            assert m["overflow"] <= 0, m  # the whole table fits: nothing behind a sideways scroll
        # every column is one click away, and back
        hidden = [k for k, (_, _, vis) in m["cols"].items() if not vis]
        assert "p_signflip" in hidden
        button = page.locator('button.allcols[data-table="t-contrasts"]')
        button.click()
        shown = _column_boxes(page, "t-contrasts")["cols"]
        assert all(shown[k][2] for k in hidden) and button.get_attribute("aria-pressed") == "true"
        button.click()
        assert not _column_boxes(page, "t-contrasts")["cols"]["p_signflip"][2]
        assert b.errors == [] and b.requests == []
    finally:
        b.close()


# ---------------------------------------------------------------------------------------------
# What the design can support, and studies that leave optional inputs out.

def _build(tmp_path, inp, config=None, **extra):
    config = validate_config(config or {})
    sink = FigureSink(tmp_path / "figures", ["png"])
    page = build_summary(inp.pop("contrasts"), inp.pop("window_tables"), inp.pop("reports"), inp.pop("qc"),
                         config, figures=sink, tables_dir=tmp_path, **inp, **extra)
    (tmp_path / "summary.html").write_text(page, encoding="utf-8")
    return page


def _supported_rows(page):
    return re.findall(r'<tr class="supported">', page)


def test_one_dyad_study_warns_and_marks_nothing_significant(tmp_path):
    inp = _inputs(n_dyads=1)
    c = inp["contrasts"]
    # the within-dyad circular-shift p alone would call the injected contrast significant
    p_within = c["p_shift"] if "p_shift" in c else c["p"]
    assert (p_within < 0.05).any() and (c.n_dyads == 1).all()
    page = _build(tmp_path, inp)
    assert "This study has one dyad." in page
    assert "No row is marked as a finding" in page
    assert _supported_rows(page) == []
    assert "none <span class=\"note\">(one dyad)</span>" in page  # no zero-width [x, x] interval shown
    if "p_shift" in c:  # the statistics stage gives no group p for one dyad: the page says so
        assert "No contrast has a test across dyads" in page
    else:
        assert "(within-dyad test)" in page
    assert "[0." not in page.split('id="joint"')[1].split("</section>")[0]  # nor in the joint display text
    # nothing supported, said plainly: one dyad makes no claim about other pairs
    assert "Nothing on this page is a finding about client–therapist pairs in general" in page


def test_few_dyads_cannot_reach_the_group_level_and_say_so(tmp_path):
    from hyperscan.summary_text import fmt_p, signflip_floor, supported

    assert signflip_floor(3) == 0.25 and signflip_floor(5) == 0.0625 and signflip_floor(6) == 0.03125
    inp = _inputs(n_dyads=3)
    inp["contrasts"]["p_floor"] = 0.25  # a group test whose floor the statistics stage reports
    inp["contrasts"]["q"] = 0.01
    page = _build(tmp_path, inp)
    assert "With 3 dyads the test across dyads cannot give a p below 0.25" in page
    assert _supported_rows(page[: page.index('id="nulls"')]) == []  # q < 0.05, yet not a finding
    # a floor reported by the stats stage wins over the sign-flip floor, and p is never finer
    rows = pd.DataFrame({"q": [0.01, 0.01, 0.2], "n_dyads": [8, 8, 8], "p_min": [0.004, 0.08, 0.004]})
    assert list(supported(rows)) == [True, False, False]
    assert fmt_p(0.004, 0.004) == ("≤ 0.004", "smallest possible")
    assert fmt_p(0.0004)[0] == "< 0.001" and fmt_p(0.0312)[0] == "0.0312"


def test_enough_dyads_highlight_the_injected_contrast_only(tmp_path):
    inp = _inputs(n_dyads=6)
    page = _build(tmp_path, inp)
    rows = _supported_rows(page)
    assert rows, "the injected connected/attuned contrast must be highlighted with 6 dyads"
    assert "When the client reported “connected”" in page or "When the therapist reported “attuned”" in page
    assert re.search(r"higher than in (windows nobody coded|all other windows of the session)", page)
    assert "6 of 6 dyads show the same direction" in page


def _with_point_event(inp, bump=0.5):
    """An observer codes a 4-window "peak" in every dyad (two point events' worth of windows)
    where synchrony jumps by ``bump``: the largest raw difference of the study, on a
    category with far fewer windows than stats.min_reference_windows (10)."""
    tables = []
    for t in inp["window_tables"]:
        lab = np.array(["n/a"] * len(t), dtype=object)
        at = t.start.between(40, 43).to_numpy()
        lab[at] = "peak"
        tables.append(t.assign(rater1_category=lab, value=t.value + bump * at))
    inp["window_tables"] = tables
    inp["contrasts"] = group_contrasts(tables, n_permutations=199)
    inp["dyad_diffs"] = dyad_contrasts(tables)
    return inp


def _lead(page):
    return page.split('<div class="lead">')[1].split("</div>")[0]


@pytest.mark.parametrize("n_dyads", [1, 6])
def test_headline_prefers_what_the_design_supports_over_a_tiny_n_contrast(tmp_path, n_dyads):
    inp = _with_point_event(_inputs(n_dyads=n_dyads))
    c = inp["contrasts"]
    peak = c[c.category == "peak"]
    # the trap: the 4-window contrast has by far the largest raw difference (and, with one
    # dyad, the smallest within-dyad p is no guide either)
    assert (peak.n_windows == 4 * n_dyads).all() and peak.estimate.abs().max() > 2 * c[
        c.category != "peak"].estimate.abs().max()
    page = _build(tmp_path, inp)
    lead = _lead(page)
    sentences = re.findall(r"<p>(.*?)</p>", lead, flags=re.S)
    named = [s for s in sentences if "“" in s]
    assert named, lead
    # the first contrast the paragraph names is an injected one with enough windows, not the peak
    assert "“connected”" in named[0] or "“attuned”" in named[0], named[0]
    assert "“peak”" not in named[0]
    if n_dyads == 1:
        assert "Nothing on this page is a finding about client–therapist pairs in general" in lead
        assert "describes this one pair only" in lead
        assert "15 category and 45 comparison windows" in lead  # the lead's own window counts
        assert "“peak”" not in lead  # never named as the clearest difference
        assert _supported_rows(page) == []
    else:
        assert peak.q.min() < 0.05  # the group test alone would call the peak a finding
        assert "When the client reported “connected”" in lead or "When the therapist reported “attuned”" in lead
        # ... and the paragraph names it only as resting on too few windows, after the findings
        assert "resting on too few windows" in lead and "“peak” of rater1 (4 category and" in lead
        assert lead.index("resting on too few windows") > lead.index("reported “")
        # the table says it beside the count of every peak row, and of no other row
        table = page.split('id="t-contrasts"')[1].split("</table>")[0]
        assert table.count("(few: 4 per dyad)") == table.count(">peak<") > 0


def test_headline_leads_with_the_pre_specified_contrast(tmp_path):
    inp = _with_point_event(_inputs(n_dyads=6))
    primary = [{"reporter": "therapist", "category": "attuned", "band": "alpha", "metric": "envcorr"}]
    page = _build(tmp_path, inp, config={"stats": {"primary": primary}})
    lead = _lead(page)
    first = re.findall(r"<p>(.*?)</p>", lead, flags=re.S)[1]
    assert first.startswith("Pre-specified contrast (stats.primary): envelope correlation in the alpha band when "
                            "the therapist reported “attuned”")
    assert "the design supports it" in first


def test_headline_says_plainly_when_no_contrast_has_enough_windows(tmp_path):
    from hyperscan.summary_text import enough_windows, findings

    rows = pd.DataFrame({"reporter": ["client"], "category": ["peak"], "reference": ["others"], "band": ["alpha"],
                         "metric": ["plv"], "n_dyads": [1], "n_windows": [4], "n_reference_windows": [100],
                         "estimate": [0.4], "ci_low": [np.nan], "ci_high": [np.nan], "p": [np.nan],
                         "q": [np.nan], "p_shift": [0.001], "note": [""]})
    assert list(enough_windows(rows)) == [False]
    assert list(enough_windows(rows.assign(n_windows=10))) == [True]
    assert list(enough_windows(rows.assign(n_windows=10, n_dyads=2))) == [False]  # 5 per dyad
    assert list(enough_windows(rows.assign(n_windows=10, note="few reference windows: fewest 3"))) == [False]
    text = " ".join(findings(rows, [False], n_dyads=1, n_sessions=1, n_windows=104, window_length=2.0))
    assert "with one dyad there is no test across dyads" in text
    assert "No contrast had enough windows on both sides (at least 10 per dyad each)" in text
    assert "“peak”" not in text


OPTIONAL = ["reports", "nulls", "directional", "person", "channel_pairs", "mixed"]


@pytest.mark.parametrize("n_dyads", [1, 3])
@pytest.mark.parametrize("left_out", [(), ("reports",), ("nulls",), ("reports", "nulls"),
                                      ("directional", "person", "channel_pairs", "mixed"), tuple(OPTIONAL)])
def test_every_optional_input_left_out_gives_a_complete_smaller_page(tmp_path, n_dyads, left_out):
    inp = _inputs(n_dyads=n_dyads)
    if "reports" in left_out:  # a study without reports: windows carry no category columns
        inp["window_tables"] = [t.drop(columns=["client_category", "therapist_category"])
                                for t in inp["window_tables"]]
        inp["contrasts"] = group_contrasts(inp["window_tables"], n_permutations=19, n_bootstrap=19)
        inp["dyad_diffs"] = pd.DataFrame()
        inp["reports"] = pd.DataFrame()
        inp["mixed"] = pd.DataFrame()
    if "nulls" in left_out:
        inp["nulls"], inp["surrogates"] = None, None
    for key in ("directional", "person", "channel_pairs", "mixed"):
        if key in left_out:
            inp[key] = None
    page = _build(tmp_path, inp, not_computed=[("Continuous ratings", "the sessions sheet has no `ratings` column")])
    assert page.rstrip().endswith("</html>") and "Provenance" in page and "Study overview" in page
    assert "Not computed, and why" in page and "the sessions sheet has no `ratings` column" in page
    if "reports" in left_out:
        assert "no session has experience reports" in page and "No experience reports were given" in page
        assert "Strongest contrasts" not in page and "Joint display" not in page
        assert pd.read_csv(tmp_path / "joint_display.tsv", sep="\t").empty
    else:
        assert "Strongest contrasts" in page
    if n_dyads == 1:
        assert "This study has one dyad." in page and _supported_rows(page) == []
        assert "Pseudo-dyads and every test across dyads" in page
    if "nulls" in left_out and n_dyads > 1:
        assert "Null models</strong>: no null-model table" in page
    assert "Session time courses" in page  # the synchrony itself is always shown
    overview = pd.read_csv(tmp_path / "overview.tsv", sep="\t")
    assert len(overview) == n_dyads and (overview.windows == 60).all()


def test_summary_stage_reads_empty_stage_tables(tmp_path):
    """The study-without-reports crash: stats writes header-less empty TSVs; the stage reads them."""
    from types import SimpleNamespace

    from hyperscan.summary import summary_stage
    from hyperscan.windows import write_tsv

    inp = _inputs(n_dyads=2)
    files = {}
    for name in ("contrasts", "dyads", "mixed", "directional", "person", "channel_pairs"):
        (tmp_path / f"{name}.tsv").write_text("")
        files[name] = str(tmp_path / f"{name}.tsv")
    wins = []
    for k, t in enumerate(inp["window_tables"]):
        path = tmp_path / f"w{k}.tsv"
        write_tsv(t.drop(columns=["client_category", "therapist_category"]), path)
        wins.append(str(path))
    qc = tmp_path / "qc.json"
    qc.write_text('{"dyad": "D0", "session": "S1"}')
    inputs = SimpleNamespace(windows=wins, qc=[str(qc)], nulls=[], **files)
    summary_stage(inputs, [], validate_config({}), tmp_path / "group" / "summary.html")
    page = (tmp_path / "group" / "summary.html").read_text()
    assert "No experience reports were given" in page and "Continuous ratings" in page


# ---------------------------------------------------------------------------------------------
# Untrusted strings: escaped in HTML, literal in figures.

HOSTILE = "al<img src=x onerror=window.__xss=1>"
HOSTILE_TEXT = "</script><script>window.__xss=2</script><b onmouseover=window.__xss=3>hi</b> $\\notacommand$"


def _hostile_inputs():
    inp = _inputs(n_dyads=3)
    for t in inp["window_tables"] + inp["nulls"]:
        t["band"] = HOSTILE
    inp["contrasts"]["band"] = HOSTILE
    inp["dyad_diffs"]["band"] = HOSTILE
    inp["surrogates"]["band"] = HOSTILE
    inp["directional"]["band"] = HOSTILE
    inp["channel_pairs"]["band"] = HOSTILE
    inp["mixed"]["band"] = HOSTILE
    inp["reports"]["text"] = HOSTILE_TEXT
    inp["reports"]["category"] = np.where(inp["reports"].reporter == "client", "con<i>nected", "attuned")
    return inp


def test_hostile_names_are_escaped_everywhere(tmp_path):
    page = _build(tmp_path, _hostile_inputs(), alignment=[f"D0/S1: {HOSTILE}"])
    assert "<img src=x" not in page and "<script>window" not in page and "<b onmouseover" not in page
    assert "al&lt;img src=x onerror=window.__xss=1&gt;" in page
    assert page.count("<script") == len(re.findall(r'<script type="application/json"', page)) + 1


@needs_browser
def test_hostile_page_executes_nothing_in_a_browser(tmp_path):
    _build(tmp_path, _hostile_inputs())
    b = Browser((tmp_path / "summary.html").as_uri())
    try:
        page = b.page
        page.locator("#joint button.excerpt").first.click()
        page.locator("#joint button.excerpt").first.hover()
        assert page.evaluate("() => window.__xss") is None
        assert page.locator("img[src='x']").count() == 0
        assert HOSTILE in page.locator("#timecourses h2").text_content()
        assert b.errors == [] and b.requests == [] and b.dialogs == []
    finally:
        b.close()


def test_figures_draw_user_text_literally(tmp_path):
    import matplotlib.text

    from hyperscan.summary_figures import estimation_plot, surrogate_plot

    inp = _hostile_inputs()
    inp["contrasts"]["band"] = "a$\\notacommand{x}$b"
    inp["dyad_diffs"]["band"] = "a$\\notacommand{x}$b"
    fig = estimation_plot(inp["dyad_diffs"], inp["contrasts"].head(3))
    texts = [t for t in fig.findobj(matplotlib.text.Text) if "$" in t.get_text()]
    assert texts and all(t._preprocess_math(t.get_text()) == (t.get_text(), False) for t in texts)
    sink = FigureSink(tmp_path / "figures", ["png", "svg"])
    sink(fig, "estimation")  # mathtext would raise on \notacommand while drawing
    sink(surrogate_plot(inp["surrogates"].assign(band="$x^2$")), "nulls")
    assert (tmp_path / "figures" / "estimation.svg").is_file()


def test_null_model_figure_stars_the_rows_its_table_highlights(tmp_path):
    from hyperscan.summary import real_above_pseudo
    from hyperscan.summary_figures import surrogate_plot

    surrogates = pd.DataFrame({
        "band": ["delta", "alpha", "beta"], "metric": ["ccorr"] * 3, "n_dyads": [8, 8, 8],
        "n_pseudo_pairs": [56] * 3, "real": [-0.04, 0.12, 0.05], "pseudo": [-0.05, 0.05, 0.045],
        "phase": [-0.01, 0.01, 0.0], "real_minus_pseudo": [0.01, 0.07, 0.005],
        "pseudo_ci_low": [-0.01, 0.04, 0.001], "pseudo_ci_high": [0.03, 0.1, 0.01],
        "p_pseudo": [0.6, 0.004, 0.09], "z_pseudo": [0.3, 3.1, 1.6],
        "real_minus_phase": [-0.03, 0.11, 0.05], "phase_ci_low": [-0.05, 0.08, 0.02],
        "phase_ci_high": [-0.01, 0.14, 0.08], "p_phase": [0.02, 0.004, 0.01], "z_phase": [-2.0, 3.0, 2.5]})
    marked = real_above_pseudo(surrogates)
    assert list(marked) == [False, True, False]  # beta: interval above 0, but the test says p = 0.09
    fig = surrogate_plot(surrogates, marked)
    stars = [t for t in fig.axes[0].texts if t.get_text() == "*"]
    assert len(stars) == 1 and stars[0].xy[0] == 1  # over alpha, the highlighted row
    assert fig.axes[0].get_ylim()[0] < -0.05  # negative synchrony is on the axis
    inp = _inputs(n_dyads=3)
    inp["surrogates"] = surrogates
    page = _build(tmp_path, inp)
    nulls_table = page[page.index('id="t-nulls"'):]
    nulls_table = nulls_table[: nulls_table.index("</table>")]
    rows = re.findall(r"<tr( class=\"supported\")?>\s*<td[^>]*>([a-z]+)", nulls_table)
    assert [band for cls, band in rows if cls] == ["alpha"]


def test_headline_names_the_band_where_measures_agree_not_the_leakage_band():
    """The sample study's shape: alpha coupling in 5 of 6 measures with large differences; the
    neighbouring beta band shows 3 measures with a third of the difference but, from filter
    leakage, tighter intervals and the smallest q. The page leads with alpha."""
    from hyperscan.summary_text import findings, lead_contrast

    rows = []
    for band, metrics, est, q in (("alpha", ["plv", "ccorr", "coh", "wpli", "envcorr"], 0.07, 0.004),
                                  ("beta", ["plv", "coh", "envcorr"], 0.03, 0.0009)):
        for k, m in enumerate(metrics):
            rows.append(dict(reporter="therapist", category="attuned", reference="others", band=band, metric=m,
                             n_dyads=6, n_windows=342, n_reference_windows=504, estimate=est - 0.001 * k,
                             ci_low=est / 2, ci_high=est * 1.5, p=q / 10, q=q + 0.0001 * k, note=""))
    c = pd.DataFrame(rows)
    hl = np.ones(len(c), bool)
    text = " ".join(findings(c, hl, n_dyads=6, n_sessions=6, n_windows=894, window_length=2.0))
    assert "synchrony was higher than in all other windows of the session in the alpha band (5 of 5 measures" in text
    assert "and in the beta band (3 of 3)" in text
    assert "Clearest single result: alpha phase locking (PLV) (difference 0.07" in text
    lead = lead_contrast(c, hl, metrics={"plv", "envcorr"})
    assert (lead.band, lead.metric) == ("alpha", "plv")


# ---------------------------------------------------------------------------------------------
# Precision: no p finer than its test resolves, p and q at the 3 significant digits promised.

def _shown_floors(text):
    """Every number the text prints as a floor: "≤ x", "cannot go below x", "p below x"."""
    pat = r"(?:≤ |cannot go below |cannot give a p below |could not go below p = )(\d+(?:\.\d+)?)(?![\d/])"
    return [float(x) for x in re.findall(pat, text)]  # not the glossary's "below 2/2^n"


def test_floors_and_p_are_printed_exactly_enough():
    from hyperscan.summary_text import design_warnings, fmt_floor, fmt_p

    # a floor: exact when it has 3 significant digits, else rounded up, never down
    assert fmt_floor(2 / 2**4) == "0.125" and fmt_p(2 / 2**4, 2 / 2**4) == ("≤ 0.125", "smallest possible")
    assert fmt_floor(2 / 2**5) == "0.0625" and fmt_p(2 / 2**5, 2 / 2**5)[0] == "≤ 0.0625"
    assert fmt_floor(1 / 49) == "0.0205" and fmt_p(1 / 49, 1 / 49)[0] == "≤ 0.0205"  # 0.020408...
    assert fmt_floor(2 / 2**12) == "0.000489" and fmt_p(2 / 2**12, 2 / 2**12)[0] == "≤ 0.000489"  # 0.00048828
    assert fmt_floor(0.1 + 0.2) == "0.3"  # float noise is not a digit to round up
    # p: 3 significant digits, as the page says (was 2: 0.375 -> "0.38", 0.0499 -> "0.05")
    assert fmt_p(0.375) == ("0.375", "") and fmt_p(0.375, 2 / 2**4) == ("0.375", "")
    assert fmt_p(0.0499)[0] == "0.0499" and fmt_p(0.05)[0] == "0.05" and fmt_p(0.0312)[0] == "0.0312"
    assert fmt_p(0.02041, 1 / 49)[0] == "0.0205"  # just above the floor, not rounded below it
    assert "cannot give a p below 0.125," in design_warnings(4)[0]
    from hyperscan.summary_text import GLOSSARY

    assert "3 significant digits" in dict(GLOSSARY)["p and q"]  # what the page promises


@pytest.mark.parametrize("group_test_name", ["signflip", "wilcoxon"])
def test_no_printed_floor_lies_below_the_floor_for_3_to_12_dyads(group_test_name):
    """Every "≤ x" / "cannot go below x" the contrasts table, the warnings and the statistics
    notes print is at least the test's smallest p, for 3..12 dyads."""
    from hyperscan.stats import precision_note, sign_flip_floor
    from hyperscan.summary import _table
    from hyperscan.summary_text import design_warnings, fmt_p, signflip_floor

    for n in range(3, 13):
        floor = 2 / 2**n
        rows = pd.DataFrame({"reporter": "client", "category": "c", "band": "alpha", "metric": "plv",
                             "estimate": 0.1, "ci_low": 0.0, "ci_high": 0.2, "n_dyads": n,
                             "p": [floor, 3 * floor, 0.375], "p_floor": floor, "q": [floor, 3 * floor, 0.375],
                             "p_signflip": floor, "p_signflip_floor": floor})
        t = _table(rows, "t")
        texts = [f"{c['text']} ({c['note']})" for r in t["rows"] for c in r["cells"]]
        shown = _shown_floors(" ".join(texts)) + _shown_floors(fmt_p(floor, floor)[0])
        shown += _shown_floors(" ".join(design_warnings(n)))
        assert len(shown) >= 4, (n, texts)
        assert min(shown) >= floor, (n, shown, floor)
        assert signflip_floor(n) == floor
        note = precision_note(n, group_test_name=group_test_name, n_permutations=2000)
        true_floor = sign_flip_floor(n, 2000) if group_test_name == "signflip" else floor  # 1/2001 above 2^11
        note_floors = _shown_floors(note)
        assert note_floors and min(note_floors) >= true_floor, (n, note)


def test_four_dyad_contrasts_cells_show_the_floor_exactly(tmp_path):
    """The reviewer's 4-dyad page: a sign-flip p at its floor 0.125 read "≤ 0.12", its
    neighbours "this test cannot go below 0.12", and p = 0.375 "0.38"."""
    inp = _inputs(n_dyads=4)
    c = inp["contrasts"]
    c["p_floor"], c["group_test"] = 0.125, "sign-flip"
    c["p"] = np.where(np.arange(len(c)) == 0, 0.125, 0.375)
    page = _build(tmp_path, inp)
    table = page[page.index('id="t-contrasts"'):]
    table = table[: table.index("</table>")]
    assert 'data-sort="0.125">≤ 0.125 <span class="note">(smallest possible)</span>' in table
    assert 'data-sort="0.375">0.375 <span class="note">(with 4 dyads this test cannot go below 0.125)</span>' in table
    before_provenance = page[: page.index('<section id="provenance">')]  # package versions such as 4.0.12
    assert not re.search(r"(?<![\d.])0\.12(?!\d)", before_provenance) and "0.38" not in table
    # every floor the page prints is the group test's 0.125 or a row's within-dyad p_shift floor
    from hyperscan.summary_text import fmt_floor

    known = {0.125} | {float(fmt_floor(x)) for x in c["p_shift_floor"].dropna()}
    assert set(_shown_floors(page)) <= known and 0.125 in _shown_floors(page)


# ---------------------------------------------------------------------------------------------
# Mixed models and channel-pair clusters: said when not computed, and why.

def _not_computed_list(page):
    block = page[page.index("<h3>Not computed, and why</h3>"):]
    return block[: block.index("</ul>")]


def _stage_tables(tmp_path, tables, config):
    """The statistics stage's own mixed_models.tsv for these windows, read as the summary reads it,
    and the header-only channel_pairs.tsv the channel-pairs stage writes when it selects nothing."""
    from hyperscan.channel_pairs import PAIR_COLUMNS
    from hyperscan.stats import stats_stage
    from hyperscan.summary import _read
    from hyperscan.windows import write_tsv

    paths = []
    for k, t in enumerate(tables):
        paths.append(tmp_path / f"w{k}.tsv")
        write_tsv(t, paths[-1])
    stats_stage(paths, config, tmp_path / "contrasts.tsv", tmp_path / "dyads.tsv", tmp_path / "mixed.tsv")
    write_tsv(pd.DataFrame(columns=PAIR_COLUMNS), tmp_path / "channel_pairs.tsv")
    return _read(tmp_path / "mixed.tsv"), _read(tmp_path / "channel_pairs.tsv")


def test_four_dyads_without_primary_say_why_mixed_models_and_pairs_are_missing(tmp_path):
    from hyperscan.stats import select_contrasts

    inp = _inputs(n_dyads=4)
    config = validate_config({})
    inp["mixed"], inp["channel_pairs"] = _stage_tables(tmp_path, inp["window_tables"], config)
    assert inp["mixed"].empty and list(inp["mixed"].columns)[:2] == ["reporter", "category"]
    # the stages' own reason (select_contrasts' label, which they log), word for word on the page
    label = select_contrasts(inp["window_tables"], config["stats"], config["stats"]["mixed_models"])[2]
    assert label == "none: no stats.primary, and 4 dyads are too few for a split half (needs 6)"
    page = _build(tmp_path, inp, config={})
    listed = _not_computed_list(page)
    for what in ("Linear mixed models (group/mixed_models.tsv)",
                 "Inter-brain matrices per channel pair with their cluster test (group/channel_pairs.tsv)"):
        assert (f"<li><strong>{what}</strong>: no stats.primary, and 4 dyads are too few for a split half "
                "(needs 6); contrasts named in advance in stats.primary") in listed, what
    # their sections are in the table of contents and say it too
    assert '<a href="#mixed">Linear mixed models</a>' in page
    assert '<a href="#pairs">Inter-brain matrices of the strongest contrasts</a>' in page
    for sid in ("mixed", "pairs"):
        section = page[page.index(f'<section id="{sid}">'):]
        assert "<p>Not computed: no stats.primary, and 4 dyads are too few for a split half (needs 6)" in \
            section[: section.index("</section>")]


def test_other_reasons_for_empty_mixed_models_and_pairs(tmp_path):
    from hyperscan.channel_pairs import PAIR_COLUMNS
    from hyperscan.stats import MIXED_COLUMNS

    empty = dict(mixed=pd.DataFrame(columns=MIXED_COLUMNS), channel_pairs=pd.DataFrame(columns=PAIR_COLUMNS))
    # switched off
    page = _build(tmp_path, {**_inputs(n_dyads=4), **empty},
                  config={"stats": {"mixed_models": 0, "channel_pairs": {"top": 0}}})
    listed = _not_computed_list(page)
    assert "switched off in the configuration (stats.mixed_models is 0)" in listed
    assert "switched off in the configuration (stats.channel_pairs.top is 0)" in listed
    # enough dyads for a split half (min_dyads 2: needs 4), yet nothing fitted: not "too few dyads"
    page = _build(tmp_path, {**_inputs(n_dyads=4), **empty}, config={"stats": {"min_dyads": 2}})
    listed = _not_computed_list(page)
    assert listed.count("no contrast selected for it had enough category and reference windows") == 2
    assert "split half" not in listed


def test_computed_mixed_models_and_pairs_are_not_listed_as_missing(tmp_path):
    inp = _inputs(n_dyads=4)  # channel pairs and mixed models with rows
    assert len(inp["mixed"]) and len(inp["channel_pairs"])
    page = _build(tmp_path, inp, not_computed=[("Continuous ratings", "the sessions sheet has no `ratings` column")])
    listed = _not_computed_list(page)
    assert "Continuous ratings" in listed
    assert "mixed_models.tsv" not in listed and "channel_pairs.tsv" not in listed and "split half" not in listed
    assert "Not computed:" not in page
    assert '<a href="#mixed">Linear mixed models</a>' in page and '<a href="#pairs">' in page
