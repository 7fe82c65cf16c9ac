"""The documentation builds with Sphinx, warnings as errors, without the network or a
simulator: the reference pages in docs/ and the API reference from the docstrings."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
TIMEOUT = 300  # s; the build takes a few seconds


def test_docs_build_without_warnings(tmp_path):
    missing = [m for m in ("sphinx", "numpydoc", "myst_parser")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: pip install -e '.[test]'")
    # -W: warnings are errors; --keep-going: report all of them, not just the first;
    # -E: read every page afresh
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
         str(DOCS), str(tmp_path / "html"), "-d", str(tmp_path / "doctrees")],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, (
        f"sphinx-build exited with {result.returncode}:\n{result.stderr}{result.stdout}")
    for page in ("index", "api", "adding-a-backend", "results", "bad-input"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page
