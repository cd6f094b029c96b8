"""Text people type, refused when it holds characters no person means to send.

Control characters (NUL, escape, ...) cannot be stored by PostgreSQL (NUL) or break what
shows the text (a terminal, a mail header); bidirectional override and isolate characters
(U+202A to U+202E, U+2066 to U+2069) make text display in another order than it is stored, the
"Trojan Source" trick. A model field takes :data:`SingleLineText` (a title: no control
character at all) or :data:`MultilineText` (a description: line breaks and tabs welcome);
a refusal is a validation error, so the field is named in the 422.
"""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embedding, override and isolate characters of the Unicode bidirectional algorithm."""
LINE_BREAKS_AND_TABS = frozenset("\t\n\r")


def _refuse(value: str, allowed: frozenset[str]) -> str:
    for character in value:
        if character in allowed:
            continue
        if character in BIDI_CONTROLS:
            raise ValueError(
                f"Must not contain bidirectional control characters (U+{ord(character):04X})"
            )
        if unicodedata.category(character) == "Cc":
            raise ValueError(f"Must not contain control characters (U+{ord(character):04X})")
    return value


def single_line(value: str) -> str:
    """``value``, unless it holds a control character (line breaks and tabs included) or
    a bidirectional control character; raises ``ValueError`` naming the first one."""
    return _refuse(value, frozenset())


def multiline(value: str) -> str:
    """``value``, unless it holds a control character other than a line break or a tab,
    or a bidirectional control character; raises ``ValueError`` naming the first one."""
    return _refuse(value, LINE_BREAKS_AND_TABS)


SingleLineText = Annotated[str, AfterValidator(single_line)]
MultilineText = Annotated[str, AfterValidator(multiline)]
