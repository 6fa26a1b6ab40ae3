"""FigureSink draws a figure's PNG once (issue #19): the file in figures/ is the render the
summary page embeds, and both are what a separate render of the same figure gives."""

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hyperscan.summary_figures import FigureSink  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(np.sin(np.linspace(0, 6, 200)), label="a $b$ c")  # mathtext off: drawn as written
    ax.set_title("x_1 ^ 2")
    ax.legend()
    return fig


def test_png_file_is_the_embedded_render_and_a_fresh_render(tmp_path):
    uri = FigureSink(tmp_path / "figures", ["png", "svg"])(_figure(), "fig one")
    embedded = base64.b64decode(uri.split(",", 1)[1])
    written = (tmp_path / "figures" / "fig_one.png").read_bytes()
    assert written == embedded and written[:8] == b"\x89PNG\r\n\x1a\n"
    # what the sink wrote before (a second savefig with the same arguments)
    fig = _figure()
    with plt.rc_context({"text.parse_math": False, "svg.hashsalt": "hyperscan"}):
        for text in fig.findobj(matplotlib.text.Text):
            text.set_parse_math(False)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    assert written == buf.getvalue()
    svg = (tmp_path / "figures" / "fig_one.svg").read_text()
    assert "<svg" in svg and "Date" not in svg.split("<svg", 1)[0]


def test_svg_only_and_no_folder(tmp_path):
    FigureSink(tmp_path / "f", ["svg"])(_figure(), "only")
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["only.svg"]
    uri = FigureSink()(_figure(), "none")
    assert uri.startswith("data:image/png;base64,")


def test_extra_formats_drawn_in_child_processes_are_the_same_files(tmp_path, monkeypatch):
    """workers=2 (the summary job's two threads): the SVG and PDF files are drawn in forked
    children while the parent goes on; every file and every embedded PNG is byte for byte
    what one process writes, at most one child runs at a time, none is left after finish()."""
    import multiprocessing
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("figure files in children only on Linux (fork)")
    from hyperscan import forked

    started = []
    real_start = forked.start_in_child
    monkeypatch.setattr(forked, "start_in_child", lambda *a, **k: started.append(a[3]) or real_start(*a, **k))
    names = [f"fig {i}" for i in range(5)]
    uris = {}
    for workers in (1, 2):
        sink = FigureSink(tmp_path / str(workers), ["png", "svg", "pdf"], workers=workers)
        uris[workers] = [sink(_figure(), n) for n in names]
        assert len(multiprocessing.active_children()) <= workers - 1
        sink.finish()
        assert multiprocessing.active_children() == []
        assert sink.written == [tmp_path / str(workers) / f"fig_{i}.{f}" for i in range(5) for f in ("png", "svg", "pdf")]
    assert started == [["svg", "pdf"]] * 5  # workers=2 only: every figure's extra files in a child
    assert uris[1] == uris[2]
    for i in range(5):
        for fmt in ("png", "svg"):
            one, two = ((tmp_path / w / f"fig_{i}.{fmt}").read_bytes() for w in ("1", "2"))
            assert one == two and len(one) > 1000
        # PDF: matplotlib stamps the creation time; the rest is the same drawing
        pdf = [(tmp_path / w / f"fig_{i}.pdf").read_bytes() for w in ("1", "2")]
        assert all(p.startswith(b"%PDF") for p in pdf)
    assert not list(tmp_path.rglob(".*"))  # no hidden temporary left


def test_a_failing_child_fails_the_sink_and_leaves_nothing_running(tmp_path, monkeypatch):
    """An error while a child draws (here: an SVG that cannot be written) comes back from
    finish() as the same exception; the other children are stopped, no partial file."""
    import multiprocessing
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("figure files in children only on Linux (fork)")
    real = FigureSink._write

    def failing(self, fig, stem, formats, png):
        if "svg" in formats and stem == "fig_2":
            raise OSError(28, "No space left on device")
        return real(self, fig, stem, formats, png)

    monkeypatch.setattr(FigureSink, "_write", failing)
    sink = FigureSink(tmp_path, ["png", "svg"], workers=3)
    with pytest.raises(OSError, match="No space left on device"):
        for i in range(5):
            sink(_figure(), f"fig {i}")
        sink.finish()
    assert multiprocessing.active_children() == []
    assert not (tmp_path / "fig_2.svg").exists() and not list(tmp_path.glob(".*"))


def test_cancel_lets_a_child_remove_its_temporary_file(tmp_path, monkeypatch):
    """cancel() (the summary job failed or was interrupted) sends SIGTERM first: the child
    unwinds and its atomic_output removes the hidden temporary (a review found a SIGKILLed
    child leaving `.big.svg.<pid>.tmp` in figures/); nothing keeps running."""
    import multiprocessing
    import sys
    import time

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("figure files in children only on Linux (fork)")
    real = FigureSink._write

    def slow(self, fig, stem, formats, png):
        if formats == ["svg"]:
            from hyperscan.atomic import atomic_output

            with atomic_output(self.folder / f"{stem}.svg") as tmp:
                tmp.write_text("partial")
                time.sleep(60)  # cancelled while its temporary exists
        return real(self, fig, stem, formats, png)

    monkeypatch.setattr(FigureSink, "_write", slow)
    sink = FigureSink(tmp_path, ["png", "svg"], workers=2)
    sink(_figure(), "big")
    for _ in range(100):
        if list(tmp_path.glob(".big.svg*")):
            break
        time.sleep(0.05)
    assert list(tmp_path.glob(".big.svg*"))  # the child is inside atomic_output now
    t0 = time.perf_counter()
    sink.cancel()
    assert time.perf_counter() - t0 < 10
    assert multiprocessing.active_children() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png"]  # no temporary, no partial SVG


def test_two_figures_with_one_file_name_do_not_race(tmp_path):
    """Two names that sanitise to one stem ("a b" and "a_b"): one process writes the second
    figure's files over the first's; with children the second waits for the first."""
    sink = FigureSink(tmp_path / "two", ["png", "svg"], workers=4)
    sink(_figure(), "a b")
    fig = _figure()
    fig.axes[0].set_title("second")
    sink(fig, "a_b")
    sink.finish()
    one = FigureSink(tmp_path / "one", ["png", "svg"])
    one(_figure(), "a b")
    fig = _figure()
    fig.axes[0].set_title("second")
    one(fig, "a_b")
    for fmt in ("png", "svg"):
        assert (tmp_path / "two" / f"a_b.{fmt}").read_bytes() == (tmp_path / "one" / f"a_b.{fmt}").read_bytes()
