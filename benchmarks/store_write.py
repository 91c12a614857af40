"""How fast the store commits runs: ``Store.write_chunk`` of N synthetic records (15
metrics and 2 curves of 10 epochs each, like Example 2's), then the same records again
(all already stored, as when another process stored them first).

    python benchmarks/store_write.py N
"""

import os
import sys
import tempfile
import time
from types import SimpleNamespace

from jaxstab.store import Store
from jaxstab.study import load_study


def main(n: int) -> None:
    study = load_study("article/example2")
    recs = [SimpleNamespace(setting=f'{{"learning_rate":{k % 2}}}', seed=k, diverged=False,
                            diverged_step=None, metrics={f"m{i}": k / 7 for i in range(15)},
                            curves={"loss": [0.5] * 10, "accuracy": [0.5] * 10})
            for k in range(n)]
    with tempfile.TemporaryDirectory() as d:
        store = Store(os.path.join(d, "r.sqlite"))
        fp = store.ensure_study(study)
        t0 = time.perf_counter()
        store.write_chunk(fp, recs, 1.0, {})
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        added = store.write_chunk(fp, recs, 1.0, {})
        again = time.perf_counter() - t0
        store.close()
    print(f"n={n}: first write {first:.2f} s ({n / first:,.0f} runs/s); the same runs again "
          f"{again:.2f} s (added {added})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
