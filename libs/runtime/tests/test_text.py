"""The shared refusal of control and bidirectional control characters in people's text."""

import pytest
from pydantic import BaseModel, ValidationError

from tracker_runtime.text import MultilineText, SingleLineText


class Note(BaseModel):
    title: SingleLineText = ""
    body: MultilineText = ""


REFUSED = {
    "NUL": ("\x00", "control characters (U+0000)"),
    "escape": ("\x1b[31m", "control characters (U+001B)"),
    "delete": ("\x7f", "control characters (U+007F)"),
    "C1 control": ("\x85", "control characters (U+0085)"),
    "right-to-left override": ("\u202e", "bidirectional control characters (U+202E)"),
    "left-to-right embedding": ("\u202a", "bidirectional control characters (U+202A)"),
    "first strong isolate": ("\u2068", "bidirectional control characters (U+2068)"),
    "pop directional isolate": ("\u2069", "bidirectional control characters (U+2069)"),
}


@pytest.mark.parametrize(("character", "reason"), REFUSED.values(), ids=REFUSED.keys())
@pytest.mark.parametrize("field", ["title", "body"])
def test_control_and_bidi_characters_are_refused_naming_the_field(
    field: str, character: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Note.model_validate({field: f"invoice{character}.pdf"})

    [error] = caught.value.errors(include_input=False)
    assert error["loc"] == (field,)
    assert error["msg"] == f"Value error, Must not contain {reason}"


def test_line_breaks_and_tabs_are_welcome_in_multiline_text_only() -> None:
    assert Note(body="first line\r\n\tindented\nlast").body == "first line\r\n\tindented\nlast"
    for character in "\t\n\r":
        with pytest.raises(ValidationError):
            Note(title=f"a{character}b")


def test_ordinary_text_in_any_script_passes() -> None:
    text = "Café, 東京, עברית, العربية, 🙂 \u200d zero-width joiner"
    assert Note(title=text, body=text) == Note(title=text, body=text)
