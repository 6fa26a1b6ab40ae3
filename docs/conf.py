"""Sphinx configuration of the hyperscan-eeg documentation (`make docs`).

The input reference is generated here from the JSON schemas in hyperscan/schemas (one page
per schema, written to docs/generated/ at build time), the API reference comes from the
docstrings (numpydoc), and the gallery runs examples/plot_*.py (sphinx-gallery).
The build treats every warning as an error (`make docs` passes -W).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import hyperscan  # noqa: E402

project = "hyperscan-eeg"
author = "The hyperscan-eeg developers"
copyright = "2026, The hyperscan-eeg developers"
release = version = hyperscan.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.json", "auto_examples/*.md5", "sg_execution_times.rst"]
html_theme = "alabaster"
html_static_path: list[str] = []
autosummary_generate = False
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    # only plot_*.py are gallery examples; other scripts in examples/ are plain scripts
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(^|/)(?!plot_)[^/]*\.py$",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "plot_gallery": "True",
    "write_computation_times": False,
}

SCHEMAS = ROOT / "hyperscan" / "schemas"


def _type(spec: dict) -> str:
    if "enum" in spec:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in spec["enum"])
    kind = spec.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(k for k in kinds if k)
    if "items" in spec and isinstance(spec["items"], dict) and spec["items"].get("type"):
        text += f" of {spec['items']['type']}"
    bounds = []
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in spec:
            bounds.append(f"{sign} {spec[key]}")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _cell(text: str) -> str:
    text = _md_inline(text)
    return text if text else "—"


def _rows(props: dict, required: set, prefix: str = ""):
    for name, spec in props.items():
        key = prefix + name
        default = f"`{json.dumps(spec['default'])}`" if "default" in spec and spec.get("type") != "object" else ""
        if name in required:
            default = "required"
        yield key, _type(spec), default, spec.get("description", "")
        if spec.get("type") == "object" and "properties" in spec:
            yield from _rows(spec["properties"], set(spec.get("required", [])), key + ".")


def schema_page(path: Path) -> str:
    schema = json.loads(path.read_text())
    name = path.name.replace(".schema.json", "")
    title = schema.get("title", name)
    lines = [f".. Generated from hyperscan/schemas/{path.name} by docs/conf.py; do not edit.", "",
             title, "=" * len(title), ""]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    lines += [f"Source: ``hyperscan/schemas/{path.name}``.", "",
              ".. list-table::", "   :header-rows: 1", "   :widths: 22 18 14 46", "",
              "   * - key", "     - type", "     - default", "     - meaning"]
    for key, kind, default, desc in _rows(schema.get("properties", {}), set(schema.get("required", []))):
        lines += [f"   * - {_cell('`' + key + '`')}", f"     - {_cell(kind)}", f"     - {_cell(default)}", f"     - {_cell(desc)}"]
    return "\n".join(lines) + "\n"


def write_schema_reference(app) -> None:
    out = HERE / "generated"
    out.mkdir(exist_ok=True)
    names = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        name = path.name.replace(".schema.json", "")
        target = out / f"{name}.rst"
        text = schema_page(path)
        if not target.is_file() or target.read_text() != text:
            target.write_text(text)
        names.append(name)
    index = ["Input reference", "===============", "",
             "Generated from the JSON schemas the workflow validates its inputs with.", "",
             ".. toctree::", "   :maxdepth: 1", ""] + [f"   {n}" for n in names]
    text = "\n".join(index) + "\n"
    if not (out / "index.rst").is_file() or (out / "index.rst").read_text() != text:
        (out / "index.rst").write_text(text)


def _md_inline(text: str) -> str:
    """Markdown inline text -> reST: `code` becomes a literal; |, * and _ elsewhere are
    escaped so they are not read as substitutions, emphasis or references."""
    import re

    parts = re.split(r"(`[^`]+`)", " ".join(str(text).split()))
    out = ""
    for i, part in enumerate(parts):
        if len(part) > 2 and part[0] == part[-1] == "`":
            if out and not out[-1].isspace() and out[-1] not in "([{<'\"-/:":
                out += "\\ "
            out += "``" + part[1:-1].replace("\\|", "|") + "``"
            nxt = parts[i + 1] if i + 1 < len(parts) else ""
            if nxt and not nxt[0].isspace() and nxt[0] not in ".,;:!?)]}>'\"-/":
                out += "\\ "
        else:
            out += re.sub(r"([|*_])", r"\\\1", part.replace("\\|", "|"))
    return out


def outputs_page() -> str:
    """The outputs table of README.md ("## Outputs") as a reST list-table."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Outputs", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    lines = [".. Generated from the Outputs table of README.md by docs/conf.py; do not edit.", "",
             "Output reference", "================", "",
             "Everything a run writes under ``output_dir``; per-session files under "
             "``{dyad}/{session}/``, study-wide files under ``group/``.", "",
             ".. list-table::", "   :header-rows: 1", "   :widths: 35 65", ""]
    for line in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if all(set(c) <= set("-: ") for c in cells):
            continue
        cells = cells[:1] + ["|".join(cells[1:])]  # a `|` inside code in the last column
        lines.append(f"   * - {_md_inline(cells[0])}")
        lines += [f"     - {_md_inline(c)}" for c in cells[1:]]
    return "\n".join(lines) + "\n"


def _md_prose(text: str) -> str:
    """Markdown prose -> reST: `code` literals, **bold** and *italic* kept, | and _ escaped."""
    import re

    parts = re.split(r"(`[^`]+`)", " ".join(text.split()))
    out = ""
    for i, part in enumerate(parts):
        if len(part) > 2 and part[0] == part[-1] == "`":
            if out and not out[-1].isspace() and out[-1] not in "([{<'\"-/:":
                out += "\\ "
            out += "``" + part[1:-1] + "``"
            nxt = parts[i + 1] if i + 1 < len(parts) else ""
            if nxt and not nxt[0].isspace() and nxt[0] not in ".,;:!?)]}>'\"-/":
                out += "\\ "
        else:
            out += re.sub(r"([|_])", r"\\\1", part)
    return out


def statistics_page() -> str:
    """The statistics sections of README.md (from "### Statistics" to the next "## "), as
    reST to include in docs/statistics.rst: the README stays the one place they are written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n### Statistics")
    section = text[start:].split("\n## ", 1)[0]
    lines = [".. Generated from README.md by docs/conf.py; do not edit.", ""]
    for block in section.strip().split("\n\n"):
        block = block.strip()
        if not block:
            continue
        first, _, rest = block.partition("\n")
        if first.startswith("### "):
            title = _md_prose(first[4:])
            lines += [title, "-" * len(title), ""]
            block = rest.strip()
            if not block:
                continue
        lines += [_md_prose(block), ""]
    return "\n".join(lines)


def write_outputs_reference(app) -> None:
    stats = HERE / "generated" / "statistics.inc"
    stats.parent.mkdir(exist_ok=True)
    text = statistics_page()
    if not stats.is_file() or stats.read_text() != text:
        stats.write_text(text)
    target = HERE / "generated" / "outputs.rst"
    target.parent.mkdir(exist_ok=True)
    text = outputs_page()
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)


def setup(app):
    app.connect("builder-inited", write_schema_reference)
    app.connect("builder-inited", write_outputs_reference)
