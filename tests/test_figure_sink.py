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
