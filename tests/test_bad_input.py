"""Each bad input of tests/bad_inputs.py gets its exit code and a message that says what to do,
never a traceback; docs/bad-input.md shows the very messages."""
from pathlib import Path

import pytest

from bad_inputs import CASES, as_cell, run

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input_is_refused_with_its_documented_message(case, tmp_path):
    if case.needs:
        pytest.importorskip(case.needs, reason=f"{case.needs} is not installed")
    code, message = run(case, tmp_path)
    assert code == case.code, message
    assert case.fragment in message
    case.after(tmp_path)
    assert "Traceback" not in message
    assert as_cell(message) in DOC.read_text(), \
        "message changed: run `python tests/bad_inputs.py > docs/bad-input.md`"
