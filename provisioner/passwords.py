"""Initial passwords and mail nicknames for new users.

The cloud password policy (Entra, for cloud-only users): 8 to 256 characters, at least three of
lowercase, uppercase, digits and symbols, and no Unicode characters. Generated passwords carry all
four classes, so they pass whichever three a tenant's policy counts.
"""

from __future__ import annotations

import math
import re
import secrets
import string

MIN_LENGTH = 8
MAX_LENGTH = 256
# The symbols the cloud policy lists, blank space included.
SYMBOLS = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> "
# Generated passwords avoid the blank and the characters a shell or a CSV mangles, so the admin
# can paste them anywhere; they still come from the policy's own list.
_GENERATED_SYMBOLS = "@#%^*-_!+=[]{}:.?~"
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _GENERATED_SYMBOLS)
# A password pasted into a spreadsheet cell must not start a formula: never = + - @ first.
_NOT_FIRST = "=+-@"

MAIL_NICKNAME_MAX = 64
_NICKNAME_FORBIDDEN = re.compile(r'[@()\\\[\]";:<>, ]')


def generate(length: int = 20) -> str:
    """A random password that satisfies the cloud password policy, with all four classes.

    One character of each class is placed first, the rest come from the whole alphabet, and the
    whole is shuffled (Fisher-Yates), so no position is predictable. Every choice is a digit of one
    random integer drawn by ``secrets`` at once (one system call per password, not one per
    choice), read in a mixed radix; its 64 spare bits keep any bias below 2**-64.

    A first character that would start a spreadsheet formula (``= + - @``) trades places with a
    letter or digit chosen from the spare bits, so the characters drawn stay the same.
    """
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"password length must be between {MIN_LENGTH} and {MAX_LENGTH}, not {length}")
    alphabet = "".join(_CLASSES)
    pools = [*_CLASSES, *[alphabet] * (length - len(_CLASSES))]
    swaps = range(length - 1, 0, -1)  # Fisher-Yates: position i swaps with one of 0..i
    radices = [len(p) for p in pools] + [i + 1 for i in swaps]
    n = secrets.randbits(math.prod(radices).bit_length() + 64)
    digits = []
    for radix in radices:
        n, digit = divmod(n, radix)
        digits.append(digit)
    chars = [pool[d] for pool, d in zip(pools, digits, strict=False)]
    for i, j in zip(swaps, digits[length:], strict=True):
        chars[i], chars[j] = chars[j], chars[i]
    if chars[0] in _NOT_FIRST:
        safe = [i for i, c in enumerate(chars) if c.isalnum()]  # three of the four classes: never empty
        j = safe[n % len(safe)]
        chars[0], chars[j] = chars[j], chars[0]
    return "".join(chars)


def check_policy(password: str) -> str | None:
    """Why ``password`` fails the cloud password policy, or None when it passes.

    The reason never quotes the password. The tenant's banned-password list is not known here, so
    a password that passes can still be refused by Entra.
    """
    if len(password) < MIN_LENGTH:
        return f"the password is too short: at least {MIN_LENGTH} characters are required"
    if len(password) > MAX_LENGTH:
        return f"the password is too long: at most {MAX_LENGTH} characters are allowed"
    if any(not (c.isascii() and (c.isalnum() or c in SYMBOLS)) for c in password):
        return "the password contains a character the policy does not allow (Unicode or a control character)"
    classes = (
        any(c in string.ascii_lowercase for c in password),
        any(c in string.ascii_uppercase for c in password),
        any(c in string.digits for c in password),
        any(c in SYMBOLS for c in password),
    )
    if sum(classes) < 3:
        return (
            "the password needs at least 3 of these 4: lowercase letters, uppercase letters, digits, symbols"
        )
    return None


def mail_nickname(upn: str) -> str:
    """A ``mailNickname`` derived from the UPN's local part.

    Graph refuses ``@ ( ) \\ [ ] " ; : < > ,`` and spaces in a mail nickname and allows at most
    64 characters; Exchange also refuses a leading or trailing period.
    """
    local = upn.rsplit("@", 1)[0]
    nickname = _NICKNAME_FORBIDDEN.sub("", local)
    nickname = "".join(c for c in nickname if c.isascii() and c.isprintable())
    nickname = nickname[:MAIL_NICKNAME_MAX].strip(".")
    return nickname or "user"
