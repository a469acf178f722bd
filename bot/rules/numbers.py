"""Reading numbers people type: ASCII digits only (int() rejects '²' though '²'.isdigit())."""

import re

DIGITS = re.compile(r"[0-9]{1,18}")


def is_number(text: str) -> bool:
    return DIGITS.fullmatch(text) is not None
