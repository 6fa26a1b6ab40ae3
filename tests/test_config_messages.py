"""Config mistakes are explained in plain words: the config file, the key path, the value
given and what is expected — never jsonschema's wording or the schema's regexes."""

import re

import pytest

from hyperscan.cli import main
from hyperscan.config import load_config, validate_config
from hyperscan.errors import InputError

#: jsonschema's own phrases (and keyword names) that must never reach a user.
JARGON = ("is not of type", "is not one of", "less than or equal", "greater than or equal", "less than the minimum",
          "greater than the maximum", "minimum of", "maximum of", "does not match", "is a required property",
          "Additional properties", "additionalProperties", "is too short", "is too long", "non-unique",
          "should be non-empty", "is not valid under", "exclusiveM", "propertyNames", "minItems", "maxItems",
          "uniqueItems", "minProperties", "minLength", "schema", "instance", "validator", "deque(")
#: Pieces of a regular expression (the schema's patterns) that must never reach a user.
REGEX = re.compile(r"\^\[|\]\+?\$|\]\*|\\[dwsS]|\{\d+,\d*\}|\[A-Za-z|\[a-z|\(\?P?<|\)\?|\.\*")

# (config, key path named, value as shown, words of the expectation)
BAD = [
    ({"stats": {"edge_trim": "four"}}, "stats.edge_trim", "'four'", "a number, at least 0"),  # type
    ({"stats": {"edge_trim": -1}}, "stats.edge_trim", "-1", "a number, at least 0"),  # minimum
    ({"window": {"length": 0, "step": 0.5}}, "window.length", "is 0", "a number, above 0"),  # exclusiveMinimum
    ({"stats": {"ci_level": 1.5}}, "stats.ci_level", "1.5", "above 0 and below 1"),  # exclusiveMaximum
    ({"preprocessing": {"eog_threshold": 2}}, "preprocessing.eog_threshold", "is 2", "above 0 and at most 1"),  # maximum
    ({"stats": {"min_windows": 2.5}}, "stats.min_windows", "2.5", "a whole number, at least 1"),  # integer
    ({"stats": {"group_test": "ttest"}}, "stats.group_test", "'ttest'", "one of t, signflip, wilcoxon"),  # enum
    ({"preprocessing": {"ica_method": "fastika"}}, "preprocessing.ica_method", "'fastika'",
     "did you mean 'fastica'"),  # enum with a suggestion
    ({"metrics": ["plv", "granger"]}, "metrics[1]", "'granger'", "one of plv, ccorr"),  # enum in a list
    ({"metrics": ["plv", "plv"]}, "metrics", "'plv' more than once", "none repeated"),  # uniqueItems
    ({"reports": {"consensus": {"name": "a b", "raters": ["x"], "min_raters": 1}}}, "reports.consensus.name",
     "'a b'", "letters and digits only"),  # pattern
    ({"reports": {"consensus": {"raters": ["x y"], "min_raters": 1}}}, "reports.consensus.raters[0]", "'x y'",
     "no spaces"),  # pattern of a list item
    ({"ratings": {"band": "8-13Hz"}}, "ratings.band", "'8-13Hz'", "a letter first"),  # pattern
    ({"bands": {"1alpha": [1, 2]}}, "bands", "'1alpha'", "a letter first"),  # propertyNames pattern
    ({"bands": {"alpha": [8]}}, "bands.alpha", "[8]", "exactly 2 items"),  # minItems
    ({"bands": {}}, "bands", "is empty", "at least 1 entry"),  # minProperties
    ({"reports": {"consensus": {"raters": ["x"]}}}, "reports.consensus", "lacks the key 'min_raters'",
     "raters, min_raters"),  # required
    ({"stats": {"primary": [{"reporter": "client", "category": "c", "band": "alpha"}]}}, "stats.primary[0]",
     "lacks the key 'metric'", "reporter, category, band, metric"),  # required in a list item
    ({"sesions": "x.tsv"}, "sesions", "'x.tsv'", "did you mean 'sessions'"),  # unknown key
    ({"stats": {"edge_trimm": 4}}, "stats.edge_trimm", "4", "did you mean 'stats.edge_trim'"),  # nested
    ({"stats": {"primary": [{"reporter": "client", "category": "c", "band": "alpha", "metric": "plv",
                             "metrc": "x"}]}}, "stats.primary[0].metrc", "'x'",
     "did you mean 'stats.primary[0].metric'"),  # unknown key in a list item (was accepted silently)
    ({"bids_root": 3}, "bids_root", "is 3", "text (or empty: null)"),  # type list
    ({"window": "2"}, "window", "'2'", "'key: value' lines"),  # object expected
    ({"preprocessing": {"channel_names": {"Chan 1": ""}}}, "preprocessing.channel_names.Chan 1", "''",
     "not empty"),  # minLength
]


@pytest.mark.parametrize("config,key,value,expected", BAD, ids=[b[1] + ":" + b[3][:20] for b in BAD])
def test_every_schema_error_is_plain_words_naming_file_key_value_and_expectation(tmp_path, config, key, value,
                                                                                  expected):
    import yaml

    path = tmp_path / "study" / "config.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(InputError) as err:
        load_config(path)
    problems = err.value.problems
    mine = [p for p in problems if f"'{key}'" in p]
    assert mine, problems
    for p in problems:  # every message, also the ones about other keys
        assert p.startswith(f"{path}: "), p
        text = p[len(f"{path}: "):]
        assert not any(j in text for j in JARGON), p
        assert not REGEX.search(text), p
        assert "expected" in text or "did you mean" in text, p
    assert any(value in p and expected in p for p in mine), mine


def test_validate_command_prints_the_plain_message(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("stats:\n  edge_trim: -4\n  group_test: ttest\n")
    assert main(["validate", "--configfile", str(path)]) != 0
    err = capsys.readouterr().err.replace(str(tmp_path), "")
    assert "key 'stats.edge_trim' is -4" in err and "a number, at least 0" in err
    assert "key 'stats.group_test' is 'ttest'" in err and "one of t, signflip, wilcoxon" in err
    assert not any(j in err for j in JARGON) and not REGEX.search(err)


def test_descriptions_quoted_in_messages_carry_no_regex():
    """The messages quote the first sentence of a key's description: none may be a regex."""
    from hyperscan.config import _meaning, load_schema

    schema = load_schema("config")

    def walk(node, parts):
        for k, sub in node.get("properties", {}).items():
            yield parts + [k]
            yield from walk(sub, parts + [k])

    for parts in walk(schema, []):
        assert not REGEX.search(_meaning(schema, parts)), parts


def test_a_valid_config_passes_unchanged():
    cfg = validate_config({"stats": {"edge_trim": 0, "primary": [{"reporter": "client", "category": "c",
                                                                  "band": "alpha", "metric": "plv"}]}})
    assert cfg["stats"]["edge_trim"] == 0 and cfg["stats"]["primary"][0]["metric"] == "plv"


@pytest.mark.parametrize("bands, pre, expected", [
    ({"highgamma": [55, 90], "alpha": [8, 13]}, {},
     ["band 'highgamma' (55-90 Hz) reaches above preprocessing.h_freq 45 Hz: the low-pass filter removes all of "
      "it (expected bands inside the filtered range (1-45 Hz), or a higher preprocessing.h_freq)"]),
    ({"slow": [0.1, 0.8]}, {},
     ["band 'slow' (0.1-0.8 Hz) reaches below preprocessing.l_freq 1 Hz: the high-pass filter removes all of it "
      "(expected bands inside the filtered range (1-45 Hz), or a lower preprocessing.l_freq)"]),
    ({"edge": [40, 50]}, {},
     ["band 'edge' (40-50 Hz) reaches above preprocessing.h_freq 45 Hz: the low-pass filter removes everything "
      "above 45 Hz (expected bands inside the filtered range (1-45 Hz), or a higher preprocessing.h_freq)"]),
    ({"delta": [0.5, 4]}, {"l_freq": 0.5}, []),  # a lower high-pass admits it
    ({"delta": [0.5, 4]}, {"l_freq": 0}, []),  # no high-pass at all
    ({"highgamma": [55, 90]}, {"h_freq": 95.0}, []),
])
def test_bands_outside_the_preprocessing_filter_are_refused(bands, pre, expected):
    """A band the preprocessing filter removed would be 'synchrony' of filter leakage under the
    band's name (a wrong claim, found by a new-user review): refused with the filter named.
    The defaults (delta 1-4 ... gamma 30-45 Hz, filter 1-45 Hz) touch the edges and pass."""
    cfg = {"bands": bands, "preprocessing": pre}
    if not expected:
        validate_config(cfg)
        return
    with pytest.raises(InputError) as err:
        validate_config(cfg)
    assert err.value.problems == [f"config: {e}" for e in expected]
