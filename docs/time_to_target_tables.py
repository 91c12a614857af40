"""Sequential time_to_target claims: how often the log-rank z crosses the
group-sequential boundaries (looks at 8, 16, 32, 64 seeds) under the null and under a
faster setting. Prints the schedule, the count of each sequential status and seconds.

    python docs/time_to_target_tables.py REPS RATE_RATIO

Curves 1 - exp(-r t), t = 1..30, r = 0.1 x RATE_RATIO (setting a) or 0.1 (b), times a
lognormal per-run factor (sd 0.5); target 0.9 (some runs censored at step 30).
"""
import time, sys
import numpy as np
from jaxstab.stats import sequential_verdicts, look_schedule
from jaxstab.stats._study import SimpleResults
from jaxstab.study import Claim, Target

class S:
    def __init__(self, factors, curves):
        self.factors, self.sources = factors, ("init",)
        self.key = str(factors)
        n = curves.shape[0]
        self.seeds, self.diverged = np.arange(n), np.zeros(n, bool)
        self.curves, self.metrics = {"acc": curves}, {}

def curves(rate, n, rng, steps=30):
    r = rate * np.exp(0.5 * rng.standard_normal((n, 1)))
    return 1 - np.exp(-r * np.arange(1, steps + 1))

reps, shift = int(sys.argv[1]), float(sys.argv[2])
rng = np.random.default_rng(0)
sched = look_schedule(8, 64)
claim = Claim("a faster", "acc", "time_to_target", "less", {"o": "a"}, {"o": "b"})
t0 = time.time()
out = {}
for _ in range(reps):
    res = SimpleResults([S({"o": "a"}, curves(0.1 * shift, 64, rng)), S({"o": "b"}, curves(0.1, 64, rng))])
    v, = sequential_verdicts(res, [claim], schedule=sched, upto=len(sched) - 1, targets=[Target("acc", reach=0.9)])
    out[v.status] = out.get(v.status, 0) + 1
print(sched, out, f"{time.time() - t0:.1f} s")
