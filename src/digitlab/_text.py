"""User data on a terminal: file, class and run names with control characters escaped (H11),
and rich's markup escaped where rich prints them. Low in the layers, so progress lines (the study's
steps name a dataset's classes) use the same rule as the commands."""

from __future__ import annotations


def safe(text) -> str:
    """*text* with control characters escaped as ``repr`` does (H11).

    A file, class or run name is user data: a newline in it would forge an output line, an ESC
    would drive the terminal. ``"a\nb.png"`` prints as ``a\\nb.png``, ESC as ``\\x1b``; so do
    other non-printable characters (bidi overrides, line separators). ``--json`` output needs
    none of this: JSON escapes them itself.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def markup(text) -> str:
    """:func:`safe`, and rich's markup (``[bold]``) escaped: for text printed through rich."""
    from rich.markup import escape

    return escape(safe(text))
