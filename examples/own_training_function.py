"""Your own training function through jaxstab: many seeds at once, stored, compared.

    python examples/own_training_function.py [--out DIR] [--seeds N]

`my_tasks.make_train` (beside this file) fits a noisy sine with a small MLP. The study
asks whether dropout helps the wide network: its test error on average (mean) and from
seed to seed (spread). Everything is written under --out (default: a new temporary
folder); running again with the same --out resumes instead of retraining.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

import jaxstab
from my_tasks import make_train  # this script's folder is on sys.path

DROPOUT = {"dropout": 0.1, "width": 128}
NO_DROPOUT = {"dropout": 0.0, "width": 128}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="folder for the store and the report (default: temp)")
    ap.add_argument("--seeds", type=int, default=32, help="seeds per setting")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="jaxstab-example-"))
    out.mkdir(parents=True, exist_ok=True)
    store = out / "results.sqlite"

    study = jaxstab.Study(
        name="example/sine_dropout",
        description="A user's make_train: does dropout help a wide MLP on 16 points?",
        task=make_train,  # or "my_tasks:make_train"
        config={"steps": 1000, "n_train": 16, "learning_rate": 0.03},
        factors=(("dropout", (0.0, 0.1)),  # floats: traced, vmapped with the seeds
                 ("width", (16, 128))),  # ints: static, one compile per value
        vary=("init", "data", "dropout"),  # the seed sources that change with the seed
        main_metric="test_mse",
        claims=(
            jaxstab.Claim(text="Dropout lowers the wide network's test error",
                          metric="test_mse", kind="mean", direction="less",
                          a=DROPOUT, b=NO_DROPOUT),
            jaxstab.Claim(text="Dropout makes the wide network's test error more "
                               "consistent across seeds", metric="test_mse",
                          kind="spread", direction="less", a=DROPOUT, b=NO_DROPOUT),
        ),
    )
    run = jaxstab.run_study(study, store=store, seeds=args.seeds)
    print(f"{run.runs} runs trained in {run.seconds:.1f} s "
          f"(already stored: {run.studies[0].skipped})")

    res = jaxstab.results(store, study)  # NumPy arrays per setting, settings as dicts
    for factors, mse in res.values("test_mse"):
        print(f"{factors}: test MSE {np.nanmean(mse):.4f} +- {np.nanstd(mse, ddof=1):.4f} "
              f"(sd over {len(mse)} seeds)")
    curve = res.setting(**NO_DROPOUT).curves["loss"][0]  # seeds x points
    print(f"{NO_DROPOUT}, seed 0: training loss {curve[0]:.3f} -> {curve[-1]:.3f}")

    print()
    print(jaxstab.compare(store, study).format())
    paths = jaxstab.report(store, out / "report")
    print(f"\nreport: {paths[0]}")


if __name__ == "__main__":
    main()
