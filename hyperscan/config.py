"""Configuration: load config.yaml, fill defaults from the JSON schema, explain mistakes.

The schema (``hyperscan/schemas/config.schema.json``, also ``workflow/schemas/``) is the one
place where every key is typed, documented and given its default. A misspelt key is
answered with the closest valid key ("did you mean ...?"). Every other schema error is
put in plain words (:func:`_plain_problem`): the config file, the key path
(``stats.primary[0].band``), the value given and what is expected (type, allowed values,
range, length; a ``pattern`` is described by the schema node's ``x-expected`` text, never
shown as a regex), with the first sentence of the key's ``description``.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from importlib import resources
from pathlib import Path

import yaml

from .errors import InputError, not_a_regular_file, problem, read_utf8



#: Enum values a user writes for a thing under another name: ``synchrony.backend: gpu`` means
#: ``cupy`` (difflib alone would suggest ``cpu``, one letter away).
_MEANT = {"gpu": "cupy", "cuda": "cupy", "nvidia": "cupy"}

def schema_path(name: str) -> Path:
    """Path of a bundled JSON schema: ``config``, ``sessions`` or ``reports``."""
    return Path(str(resources.files("hyperscan") / "schemas" / f"{name}.schema.json"))


def load_schema(name: str) -> dict:
    return json.loads(schema_path(name).read_text())


def _is_object(sub: dict) -> bool:
    """A schema node for a mapping (``"object"``, or ``["object", "null"]`` for optional ones)."""
    kind = sub.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


def _fill_defaults(schema: dict, data: dict) -> dict:
    for key, sub in schema.get("properties", {}).items():
        if key not in data and "default" in sub:
            data[key] = copy.deepcopy(sub["default"])
        if isinstance(data.get(key), dict) and _is_object(sub):
            _fill_defaults(sub, data[key])
    return data


def _typo_problems(schema: dict, data, source, prefix="") -> list[str]:
    """Unknown keys, each with its value and the closest valid key ("did you mean ...?"), in
    mappings and in mappings inside lists (``stats.primary[0]``)."""
    out = []
    if isinstance(data, list):
        items = schema.get("items")
        if isinstance(items, dict) and _is_object(items):
            for i, item in enumerate(data):
                if isinstance(item, dict):
                    out += _typo_problems(items, item, source, prefix=f"{prefix.rstrip('.')}[{i}].")
        return out
    props = schema.get("properties", {})
    if schema.get("additionalProperties") is False:
        for key in data:
            if key not in props:
                close = difflib.get_close_matches(str(key), props, n=1, cutoff=0.6)
                hint = f"did you mean '{prefix}{close[0]}'?" if close else (
                    "one of the keys " + ", ".join(sorted(prefix + p for p in props)))
                out.append(problem(source, f"unknown key '{prefix}{key}' (given the value {_show(data[key])}); "
                                           + hint))
    for key, sub in props.items():
        value = data.get(key)
        if (isinstance(value, dict) and _is_object(sub)) or (isinstance(value, list) and "items" in sub):
            out += _typo_problems(sub, value, source, prefix=f"{prefix}{key}.")
    return out


# --- jsonschema errors in plain words -------------------------------------------------------
# Every message names the key path (stats.edge_trim, stats.primary[0].band), the value given and
# what is expected, in words: never the schema's regex or jsonschema's own wording. A pattern is
# described by the schema node's ``x-expected``.

_TYPE_WORDS = {"number": "a number", "integer": "a whole number", "string": "text", "boolean": "true or false",
               "array": "a list", "object": "a set of 'key: value' lines", "null": "empty (null)"}


def _show(value) -> str:
    """A value as the YAML a user wrote, shortened."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _short(repr(value), 80)
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return _short(text, 80)


def _kind_of(value) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "a set of 'key: value' lines"
    return type(value).__name__


def _key_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(the whole file)"


def _fmt_num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range_words(node: dict) -> str:
    lo = ("at least", node["minimum"]) if "minimum" in node else (
        ("above", node["exclusiveMinimum"]) if "exclusiveMinimum" in node else None)
    hi = ("at most", node["maximum"]) if "maximum" in node else (
        ("below", node["exclusiveMaximum"]) if "exclusiveMaximum" in node else None)
    if lo and hi:
        if lo[0] == "at least" and hi[0] == "at most":
            return f"from {_fmt_num(lo[1])} to {_fmt_num(hi[1])}"
        return f"{lo[0]} {_fmt_num(lo[1])} and {hi[0]} {_fmt_num(hi[1])}"
    if lo or hi:
        word, x = lo or hi
        return f"{word} {_fmt_num(x)}"
    return ""


def _expected_words(node: dict) -> str:
    """What a schema node accepts, in words (type, allowed values, range, length, form)."""
    if "x-expected" in node:
        return node["x-expected"]
    if "enum" in node:
        values = [v for v in node["enum"] if v is not None]
        text = "one of " + ", ".join(_show(v) if not isinstance(v, str) else v for v in values)
        return text + (", or empty (null)" if None in node["enum"] else "")
    kinds = node.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    words = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds if k != "null")
    rng = _range_words(node)
    if rng:
        words = (words or "a number") + ", " + rng
    if "array" in kinds or "items" in node:
        n_min, n_max = node.get("minItems"), node.get("maxItems")
        if n_min is not None and n_min == n_max:
            words += f" of exactly {n_min} items"
        elif n_min:
            words += f" of at least {n_min} item{'s' if n_min != 1 else ''}"
        elif n_max is not None:
            words += f" of at most {n_max} items"
        items = node.get("items")
        if isinstance(items, dict):
            inner = _expected_words(items)
            if inner:
                words += f", each {inner}"
        if node.get("uniqueItems"):
            words += ", none repeated"
    if node.get("minLength"):
        words += " that is not empty" if node["minLength"] == 1 else f" of at least {node['minLength']} characters"
    if "null" in kinds:
        words += " (or empty: null)" if words else "empty (null)"
    return words.strip()


def _node_at(schema: dict, parts) -> list[dict]:
    """The schema nodes along a key path, root first (properties, additionalProperties, items)."""
    nodes, node = [schema], schema
    for p in parts:
        if isinstance(p, int):
            node = node.get("items") if isinstance(node.get("items"), dict) else {}
        elif p in node.get("properties", {}):
            node = node["properties"][p]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            node = {}
        nodes.append(node)
    return nodes


def _meaning(schema: dict, parts) -> str:
    """The first sentence of the nearest description on the key's path."""
    for node in reversed(_node_at(schema, parts)[1:]):
        desc = " ".join(str(node.get("description", "")).split())
        if desc:
            first = re.split(r"(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z])", desc)[0].rstrip(".")
            return first if len(first) <= 160 else first[:160].rsplit(" ", 1)[0].rstrip(",;:(") + " …"
    return ""


def _plain_problem(err, schema: dict, source) -> str:
    """One jsonschema error as file: key path, value given, what is expected (module doc)."""
    parts = list(err.path)
    key = _key_path(parts)
    node = _node_at(schema, parts)[-1] or err.schema
    value, kind = err.instance, err.validator
    if "propertyNames" in err.schema_path:  # a name of a key, e.g. a band called '1alpha'
        what = f"'{key}' has a key named {_show(value)}"
        expected = err.schema.get("x-expected") or "a name of letters, digits, _ or -"
    elif kind == "required":
        missing = [k for k in err.validator_value if not isinstance(value, dict) or k not in value]
        what = f"'{key}' lacks the key{'s' if len(missing) != 1 else ''} " + ", ".join(f"'{k}'" for k in missing)
        expected = "the keys " + ", ".join(err.validator_value)
    elif kind == "additionalProperties":
        extra = sorted(k for k in (value or {}) if k not in err.schema.get("properties", {}))
        what = f"'{key}' has the unknown key{'s' if len(extra) != 1 else ''} " + ", ".join(f"'{k}'" for k in extra)
        expected = "only the keys " + ", ".join(err.schema.get("properties", {}))
    elif kind == "uniqueItems":
        seen, dup = [], []
        for v in value:
            (dup if v in seen and v not in dup else seen).append(v)
        what = f"key '{key}' lists {', '.join(_show(v) for v in dup) or 'an item'} more than once"
        expected = _expected_words(node) or "each item once"
    elif kind == "minProperties":
        what = f"key '{key}' is empty"
        expected = f"at least {err.validator_value} entr{'y' if err.validator_value == 1 else 'ies'}"
    else:
        what = f"key '{key}' is {_show(value)}"
        if kind == "type" or kind in ("minItems", "maxItems"):
            what += f" ({_kind_of(value)})"
        expected = _expected_words(node if kind != "pattern" else err.schema) or "a value as config/README.md describes"
        if kind == "enum" and isinstance(value, str):
            options = [str(v) for v in err.validator_value if v is not None]
            meant = _MEANT.get(value.strip().lower())  # a word for the thing, not a near spelling
            close = [meant] if meant in options else difflib.get_close_matches(value, options, n=1, cutoff=0.6)
            if close:
                expected += f"; did you mean '{close[0]}'?"
    meaning = _meaning(schema, parts)
    if meaning and kind not in ("required", "additionalProperties"):
        expected += f" — {key}: {meaning}"
    return problem(source, _short(what), _short(expected, 2 * MAX_MESSAGE_CHARS))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Bounds on a config: a real one has a few hundred values in a few kB. A bigger one is an
#: accident or an attack (nested YAML aliases, a "billion laughs"), refused before anything
#: walks or formats it (jsonschema puts the repr of an offending value into its message).
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_NODES = 100_000
MAX_MESSAGE_CHARS = 300


def _too_large(data, limit: int = MAX_CONFIG_NODES) -> bool:
    """Whether ``data`` expands to more than ``limit`` values, counting shared sub-trees once
    per reference (as JSON or a validator would see them); stops counting at ``limit``."""
    count = 0
    stack = [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, (str, bytes)) and len(node) > MAX_CONFIG_BYTES:
            return True
    return False


def _short(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 20] + f" ... ({len(text)} characters)"


def _primary_problems(primary: list, bands, metrics, source) -> list[str]:
    """``stats.primary`` contrasts naming a band or metric the config does not compute (the
    pre-specified contrast would silently not exist); reporters and categories are checked
    against the reports by ``hyperscan validate``."""
    import difflib

    out = []
    for i, row in enumerate(primary, start=1):
        if not isinstance(row, dict):
            continue  # the schema reports it
        for key, known in (("band", list(bands) if isinstance(bands, dict) else None),
                           ("metric", list(metrics) if isinstance(metrics, list) else None)):
            value = row.get(key)
            if known is None or not isinstance(value, str) or value in known:
                continue
            close = difflib.get_close_matches(value, [str(k) for k in known], n=1, cutoff=0.6)
            out.append(problem(source, f"stats.primary contrast {i}: {key} '{value}' is not one of the config's "
                                       f"{key}s ({', '.join(map(str, known))})",
                               f"one of those {key}s" + (f" (did you mean '{close[0]}'?)" if close else "")))
    return out


def _bands_outside_filter(bands: dict, pre: dict, source) -> list[str]:
    """Bands reaching below ``preprocessing.l_freq`` or above ``preprocessing.h_freq``: the
    preprocessing filter has removed (part of) them, so their synchrony would be computed on
    what the filter left (edge leakage and noise) under the band's name. Equal edges are fine
    (the default gamma 30-45 Hz with h_freq 45)."""
    low = pre.get("l_freq") if _is_number(pre.get("l_freq")) and pre.get("l_freq") > 0 else None
    high = pre.get("h_freq") if _is_number(pre.get("h_freq")) else None
    if low is not None and high is not None and low >= high:
        return []  # an inverted filter is reported on its own
    out = []
    for name, edges in bands.items():
        if not (isinstance(edges, list) and len(edges) == 2 and all(map(_is_number, edges))
                and edges[0] < edges[1]):
            continue  # reported above
        span = f"{edges[0]:g}-{edges[1]:g} Hz"
        if high is not None and edges[1] > high:
            part = "all of it" if edges[0] >= high else f"everything above {high:g} Hz"
            out.append(problem(source, f"band '{name}' ({span}) reaches above preprocessing.h_freq "
                                       f"{high:g} Hz: the low-pass filter removes {part}",
                               f"bands inside the filtered range ({low or 0:g}-{high:g} Hz), or a higher "
                               "preprocessing.h_freq"))
        if low is not None and edges[0] < low:
            part = "all of it" if edges[1] <= low else f"everything below {low:g} Hz"
            out.append(problem(source, f"band '{name}' ({span}) reaches below preprocessing.l_freq "
                                       f"{low:g} Hz: the high-pass filter removes {part}",
                               f"bands inside the filtered range ({low:g}-"
                               f"{'Nyquist' if high is None else f'{high:g}'} Hz), "
                               "or a lower preprocessing.l_freq"))
    return out


def validate_config(config: dict, source="config") -> dict:
    """Return ``config`` with defaults filled in; raise InputError listing every problem.

    A config that expands to more than ``MAX_CONFIG_NODES`` values (keys, items, scalars)
    is refused before validation, so no message ever formats a huge value."""
    import jsonschema

    schema = load_schema("config")
    if not isinstance(config, dict):
        raise InputError(problem(source, "the config is not a mapping of keys to values",
                                 "YAML like 'sessions: path/to/sessions.tsv'"))
    if _too_large(config):
        raise InputError(problem(source, f"the config is too large (more than {MAX_CONFIG_NODES:,} "
                                         "values once expanded)",
                                 "a config of a few hundred keys and values, without YAML aliases"))
    config = _fill_defaults(schema, copy.deepcopy(config))
    problems = _typo_problems(schema, config, source)
    validator = jsonschema.Draft202012Validator(schema)
    for err in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.path]):
        if err.validator == "additionalProperties" and err.schema.get("additionalProperties") is False:
            continue  # reported above, each unknown key with its value and a suggestion
        problems.append(_plain_problem(err, schema, source))
    bands = config.get("bands")
    for name, edges in (bands.items() if isinstance(bands, dict) else ()):
        if (isinstance(edges, list) and len(edges) == 2 and all(map(_is_number, edges))
                and edges[0] >= edges[1]):
            problems.append(problem(source, f"band '{name}' has low edge {edges[0]} >= high "
                                            f"edge {edges[1]}", "[low, high] with low < high"))
    window = config.get("window", {})
    if (isinstance(window, dict) and _is_number(window.get("step")) and _is_number(window.get("length"))
            and window["step"] > window["length"]):
        problems.append(problem(source, "window.step is longer than window.length",
                                "step <= length, so windows tile the recording"))
    ratings = config.get("ratings")
    lags = ratings.get("lags") if isinstance(ratings, dict) else None
    if isinstance(lags, list) and len(lags) == 2 and all(map(_is_number, lags)) and lags[0] > lags[1]:
        problems.append(problem(source, f"ratings.lags [{lags[0]}, {lags[1]}] has min > max",
                                "[min_s, max_s] with min_s <= max_s, e.g. [-20, 20]"))
    reports = config.get("reports")
    consensus = reports.get("consensus") if isinstance(reports, dict) else None
    if (isinstance(consensus, dict) and isinstance(consensus.get("raters"), list)
            and isinstance(consensus.get("min_raters"), int)
            and consensus["min_raters"] > len(consensus["raters"])):
        problems.append(problem(source, f"reports.consensus.min_raters {consensus['min_raters']} exceeds the "
                                        f"{len(consensus['raters'])} raters listed",
                                "1 <= min_raters <= number of raters"))
    pre = config.get("preprocessing")
    if isinstance(pre, dict) and _is_number(pre.get("l_freq")) and _is_number(pre.get("h_freq")) \
            and 0 < pre["h_freq"] <= pre["l_freq"]:
        problems.append(problem(source, f"preprocessing.l_freq {pre['l_freq']} >= h_freq {pre['h_freq']}",
                                "a high-pass edge below the low-pass edge"))
    if isinstance(pre, dict) and isinstance(bands, dict):
        problems += _bands_outside_filter(bands, pre, source)
    stats = config.get("stats")
    if isinstance(stats, dict) and isinstance(stats.get("primary"), list):
        problems += _primary_problems(stats["primary"], bands, config.get("metrics"), source)
    if isinstance(pre, dict) and _is_number(pre.get("resample_sfreq")) and isinstance(bands, dict):
        nyquist = pre["resample_sfreq"] / 2.0
        for name, edges in bands.items():
            if isinstance(edges, list) and len(edges) == 2 and _is_number(edges[1]) and edges[1] >= nyquist:
                problems.append(problem(source, f"band '{name}' reaches {edges[1]} Hz, at or above the Nyquist "
                                                f"frequency {nyquist:g} Hz of preprocessing.resample_sfreq",
                                        f"bands below {nyquist:g} Hz (or a higher resample_sfreq)"))
    if problems:
        raise InputError(problems)
    return config


#: Config keys holding a path. A relative path written in a config file resolves against
#: the folder that holds that config file (contract section 3), so a study folder with its
#: own config runs from anywhere; a key left out takes its default relative to the working
#: directory.
PATH_KEYS = ("sessions", "output_dir", "bids_root", "bids_mapping")


def resolve_config_paths(config: dict, configfile, given=None) -> dict:
    """``config`` with the relative paths of :data:`PATH_KEYS` made absolute against the
    folder of ``configfile`` (only the keys present in ``given``, the file's own mapping,
    which defaults to ``config``). Returns ``config`` (changed in place)."""
    base = Path(configfile).expanduser().resolve().parent
    given = config if given is None else given
    for key in PATH_KEYS:
        value = config.get(key)
        if isinstance(given, dict) and key in given and isinstance(value, str) and value.strip():
            p = Path(value.strip()).expanduser()
            config[key] = str(p if p.is_absolute() else (base / p).resolve())
    return config


def load_config(path) -> dict:
    """Read and validate a config.yaml; relative paths resolve against its folder
    (:func:`resolve_config_paths`)."""
    data = read_config_yaml(path)
    return resolve_config_paths(validate_config(data, source=Path(path)), path, given=data)


class _AliasRefused(Exception):
    def __init__(self, name, line):
        super().__init__(name)
        self.name, self.line = name, line


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that refuses aliases (``*name``, also in merge keys ``<<: *name``):
    nested aliases expand exponentially ("billion laughs"), and a config never needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasRefused(event.anchor, event.start_mark.line + 1)
        return super().compose_node(parent, index)


def read_config_yaml(path):
    """The parsed YAML of a config file (not yet validated); InputError if it cannot be read."""
    path = Path(path)
    why = not_a_regular_file(path)
    if why:
        what = "not found" if why == "does not exist" else why
        raise InputError(problem(path, f"config file {what}", "an existing YAML file"))
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # read_utf8 reports an unreadable file
    if size > MAX_CONFIG_BYTES:
        raise InputError(problem(path, f"config file is {size / 2**20:.1f} MiB",
                                 f"a config of at most {MAX_CONFIG_BYTES >> 20} MiB (a few kB is usual)"))
    text = read_utf8(path, "YAML file")
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader without aliases
        return {} if data is None else data  # an empty file means "all defaults"
    except _AliasRefused as exc:
        raise InputError(problem(path, f"YAML alias '*{exc.name}' (anchors and aliases are not "
                                       "supported in a config)",
                                 "every value written out where it is used", line=exc.line)) from None
    except RecursionError:
        raise InputError(problem(path, "YAML nested too deeply", "a flat mapping of config keys")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise InputError(problem(path, f"invalid YAML: {getattr(exc, 'problem', exc)}",
                                 "valid YAML", line=line)) from None
