"""Redaction cost: every covered form against a raw-value-only baseline, in the same run.

Run: ``PYTHONPATH=. python3 benchmarks/bench_redaction.py``. Prints medians (seconds) and
ratios:

- clean text (450 KB, no secret): one secret, 300 secrets with every form, and the baseline,
  300 secrets matched as raw values only (the same trie, one form each);
- text holding secrets (one in 20 lines holds a secret in some encoding);
- building a redactor for 300 secrets and its first use (pattern compilation), on one-line
  text and on multi-line text (which also compiles the wrapped base64 forms);
- a flat alternation of every literal form, for scale (one search).
"""

from __future__ import annotations

import base64
import json
import re
import statistics
import time
from collections.abc import Callable
from urllib.parse import quote

from qengine.secrets import redaction
from qengine.secrets._encodings import encoded_forms
from qengine.secrets._trie import trie_pattern
from qengine.secrets.redaction import Redactor

LINE = "ordinary log output without any secret in it " * 20 + "\n"
TEXT = LINE * 500
ONE_LINE = f"connecting with {'token-0007-0000d87d'}: ok"  # an event's message: one line
VALUES = [f"token-{i:04d}-{i * 7919:08x}" for i in range(300)]


def _median(run: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fresh(run: Callable[[], object]) -> object:
    re.purge()  # no compiled pattern reused from ``re``'s cache
    return run()


def _raw_only(values: list[str]) -> Callable[[str], str]:
    """The baseline: the same trie over the raw values alone."""
    forms = sorted({tuple(value) for value in values})
    body = trie_pattern(forms, re.escape)
    search, overlaps = re.compile(body), re.compile(f"(?=({body}))")

    def redact(text: str) -> str:
        first = search.search(text)
        if first is None:
            return text
        found = [(m.start(), m.start() + len(m.group(1))) for m in overlaps.finditer(text)]
        return redaction._masked(text, found, "***")

    return redact


def _dirty_text() -> str:
    encoders: list[Callable[[str], str]] = [
        lambda v: v,
        repr,
        json.dumps,
        lambda v: base64.b64encode(v.encode()).decode(),
        lambda v: quote(v, safe=""),
    ]
    lines = []
    for i in range(500):
        lines.append(LINE if i % 20 else f"value {encoders[i % 5](VALUES[i % 300])} here\n")
    return "".join(lines)


def main() -> None:
    """Print the figures."""
    dirty = _dirty_text()
    single = Redactor(VALUES[:1])
    many = Redactor(VALUES)
    baseline = _raw_only(VALUES)
    figures = {
        "clean, one secret": _median(lambda: single.redact(TEXT)),
        "clean, 300 secrets": _median(lambda: many.redact(TEXT)),
        "clean, baseline": _median(lambda: baseline(TEXT)),
        "dirty, 300 secrets": _median(lambda: many.redact(dirty)),
        "dirty, baseline": _median(lambda: baseline(dirty)),
        "build+first use, 300": _median(lambda: _fresh(lambda: Redactor(VALUES).redact(ONE_LINE))),
        "build+first use, 300, lines": _median(
            lambda: _fresh(lambda: Redactor(VALUES).redact(dirty))
        ),
        "build+first use, baseline": _median(lambda: _fresh(lambda: _raw_only(VALUES)(ONE_LINE))),
    }
    forms = sorted({f for v in VALUES for f in encoded_forms(v)}, key=len, reverse=True)
    flat = re.compile("|".join(re.escape(f) for f in forms))
    figures["flat alternation"] = _median(lambda: flat.search(TEXT), repeat=1)
    print(f"text {len(TEXT)} chars; 300 secrets, {len(forms)} literal forms (medians)")
    for name, seconds in figures.items():
        print(f"{name:28s} {seconds:.4f} s")
    scale = figures["clean, 300 secrets"] / figures["clean, one secret"]
    print(f"ratio clean 300/one          {scale:.1f}")
    for kind in ("clean", "dirty"):
        ratio = figures[f"{kind}, 300 secrets"] / figures[f"{kind}, baseline"]
        print(f"ratio {kind} forms/baseline    {ratio:.1f}")
    build = figures["build+first use, 300"] / figures["build+first use, baseline"]
    print(f"ratio build forms/baseline   {build:.1f}")
    lines = figures["build+first use, 300, lines"] / figures["build+first use, baseline"]
    print(f"ratio build (lines)/baseline {lines:.1f}")
    flat_ratio = figures["flat alternation"] / figures["clean, 300 secrets"]
    print(f"ratio flat/trie (clean)      {flat_ratio:.1f}")


if __name__ == "__main__":
    main()
