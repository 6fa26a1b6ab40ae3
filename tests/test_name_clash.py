"""Our `hyperscan` next to tools that look for Intel's `hyperscan` regex library.

pathspec (black, snakefmt) tries `import hyperscan` and uses Intel's engine when the import
succeeds. With this package installed it cannot fall back (it only catches
ModuleNotFoundError), so it stops -- with an error that names the clash. Probes by
hasattr/getattr fail soft, and the documented workaround (hide our module from the one
process) gives pathspec its pure-Python matcher.
"""

import subprocess
import sys

import pytest

import hyperscan

PATHSPEC = ("import pathspec; spec = pathspec.PathSpec.from_lines('gitwildmatch', ['*.py', '!keep.py']); "
            "print(spec.match_file('a.py'), spec.match_file('keep.py'), spec.match_file('a.txt'))")


def test_intel_names_are_absent_with_an_explanation():
    for name in ("HS_FLAG_SINGLEMATCH", "HS_MODE_BLOCK", "Database"):
        assert not hasattr(hyperscan, name)
        assert getattr(hyperscan, name, "fallback") == "fallback"
        with pytest.raises(AttributeError, match="hyperscan-eeg .*not Intel's regex library"):
            getattr(hyperscan, name)
    with pytest.raises(AttributeError, match=r"^module 'hyperscan' has no attribute 'nothing_here'$"):
        hyperscan.nothing_here  # noqa: B018


def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_pathspec_names_the_clash_and_the_workaround_gives_its_own_matcher():
    import importlib.util

    if importlib.util.find_spec("pathspec") is None:  # importing it here would trip over us
        pytest.skip("pathspec is not installed")
    if hasattr(hyperscan, "Database"):
        pytest.skip("Intel's hyperscan is what imports in this environment")
    proc = _python(PATHSPEC)
    if proc.returncode == 0:  # a pathspec that no longer probes hyperscan: nothing to guard against
        assert proc.stdout.split() == ["True", "False", "False"]
    else:
        assert "HS_FLAG" in proc.stderr and "hyperscan-eeg" in proc.stderr and "not Intel's regex" in proc.stderr
    proc = _python("import sys; sys.modules['hyperscan'] = None; " + PATHSPEC)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "False", "False"]
