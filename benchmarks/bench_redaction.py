"""Redaction throughput: many secrets against one, on the same text in the same run.

Run: ``PYTHONPATH=. python3 benchmarks/redaction.py``. Prints seconds per pass and the ratio
of many secrets to one secret (the prefix-trie pattern keeps it small; a flat alternation of
every form of every secret grows with the number of forms).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from qengine.secrets._encodings import encoded_forms
from qengine.secrets.redaction import Redactor

TEXT = ("ordinary log output without any secret in it " * 20 + "\n") * 500


def _best(run: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Print the figures."""
    values = [f"token-{i:04d}-{i * 7919:08x}" for i in range(300)]
    single = Redactor(values[:1])
    one = _best(lambda: single.redact(TEXT))
    many = Redactor(values)
    trie = _best(lambda: many.redact(TEXT))
    forms = sorted({f for v in values for f in encoded_forms(v)}, key=len, reverse=True)
    flat = re.compile("|".join(re.escape(f) for f in forms))
    flat_time = _best(lambda: flat.search(TEXT), repeat=1)
    print(f"text {len(TEXT)} chars; 300 secrets = {len(forms)} forms")
    print(f"one secret      {one:.4f} s")
    print(f"300 secrets     {trie:.4f} s  (ratio {trie / one:.1f})")
    print(f"flat alternation search {flat_time:.4f} s  (ratio {flat_time / one:.1f})")


if __name__ == "__main__":
    main()
