"""Text shown on a terminal: escape sequences from tools and jobs are shown, never sent."""

from __future__ import annotations

import re

__all__ = ["terminal_safe"]

# C0 controls but tab and line feed, DEL, and C1 controls (0x9b is a one-byte CSI): what lets
# a tool's output move the cursor, clear the screen, set the title or write to the clipboard.
_TERMINAL_CONTROLS = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]")


def terminal_safe(text: str) -> str:
    """``text`` with every ANSI/OSC escape and other control character shown as ``\\xNN``,
    so output from tools and jobs cannot drive the terminal it is printed on."""
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
