"""A reason in one line: the line that says why, not a compiler's wrapper."""

from hotpath.reasons import headline


def test_a_numba_typing_error_shows_its_cause():
    reason = ("TypingError: Failed in nopython mode pipeline (step: nopython frontend)\n"
              "Untyped global name 'PARAMS': Cannot determine Numba type of <class 'dict'>\n\n"
              "File \"step.py\", line 5:\n")
    assert headline(reason) == "TypingError: Untyped global name 'PARAMS': Cannot determine Numba type of <class 'dict'>"


def test_other_reasons_keep_their_first_line():
    assert headline("disagreed on input 'captured': return value differs\nmore") == \
        "disagreed on input 'captured': return value differs"
    assert headline("Failed in nopython mode pipeline") == "Failed in nopython mode pipeline"  # nothing after it
    assert headline("") == ""
