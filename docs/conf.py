"""Sphinx configuration: the reference pages (Markdown, through MyST) and the API reference
generated from the numpydoc docstrings.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (``tests/test_docs.py``
runs it, warnings as errors). Nothing here needs the network or a simulator: no intersphinx,
the NEST backend's module imports NEST only when a simulation is set up, and sPyNNaker is
mocked.
"""
from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the package, also when it is not installed

project = "Spiking MNIST"
author = "the Spiking MNIST developers"
copyright = "the Spiking MNIST developers"
try:
    release = metadata.version("spiking-mnist")
except metadata.PackageNotFoundError:
    release = "unknown"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "figures", "Thumbs.db", ".DS_Store"]

# -- autodoc / numpydoc ----------------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections give the types
numpydoc_show_class_members = False  # autodoc lists the members; no autosummary tables
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# sPyNNaker is an optional extra; its module is documented from a stand-in whether it is
# installed or not (spiking_mnist.hardware.spinnaker imports it at the top)
autodoc_mock_imports = ["spynnaker"]

# -- MyST ------------------------------------------------------------------------------
myst_heading_anchors = 3  # links such as patches.md#measured

# -- HTML ------------------------------------------------------------------------------
html_theme = "alabaster"  # ships with Sphinx: no extra dependency
html_title = f"{project} {release}"
html_static_path: list[str] = []
