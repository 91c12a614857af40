"""Your own Flax module on your own CSV file, trained by jaxstab's built-in task.

    python examples/own_model_on_csv.py [--out DIR] [--seeds N]

Writes a CSV (scikit-learn, fixed random_state) and a study TOML under --out (default:
a new temporary folder) and trains `my_models.ResidualMLP` (beside this file) with
optax's AdaBelief by name, warmup-cosine and clipping. From the shell, the same study:
`jaxstab run DIR/study.toml --store ...` (with this folder on PYTHONPATH).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

import jaxstab

STUDY = """\
name = "example/residual_mlp_csv"
seeds = 16
vary = ["init", "order", "split", "dropout"]  # the split too: a new test set per seed
main_metric = "test_accuracy"

[data]
path = "data.csv"       # relative to this file
target = "label"
test_size = 0.3

[model]
name = "my_models:ResidualMLP"  # module:class; built as ResidualMLP(n_out=..., **args)
args = { width = 32, depth = 2, dropout = 0.1 }

[train]
optimizer = "adabelief"          # any optax optimizer by name
optimizer_args = { b2 = 0.99 }   # its other keyword arguments
batch_size = 32
epochs = 8
schedule = "warmup_cosine"       # 0 -> peak over warmup_steps, then cosine decay to 0
warmup_steps = 20
clip_norm = 1.0                  # clip gradients to this global norm first

[factors]
learning_rate = [0.001, 0.01]    # the peak rate; floats are vmapped with the seeds

[[claims]]
text = "A peak learning rate of 0.01 gives a higher test accuracy than 0.001"
metric = "test_accuracy"
kind = "mean"
direction = "greater"
a = { learning_rate = 0.01 }
b = { learning_rate = 0.001 }
"""


def write_csv(path: Path) -> None:
    x, y = make_classification(n_samples=400, n_features=8, n_informative=4,
                               flip_y=0.05, random_state=0)
    rows = [",".join(f"{v:.5f}" for v in row) + f",{'ab'[t]}" for row, t in zip(x, y)]
    path.write_text("\n".join([",".join(f"x{i}" for i in range(8)) + ",label", *rows]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="folder for the data, store and report (default: temp)")
    ap.add_argument("--seeds", type=int, help="seeds per setting (default: the TOML's 16)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="jaxstab-example-"))
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "data.csv")
    (out / "study.toml").write_text(STUDY)
    store = out / "results.sqlite"

    # `my_models` is found as this script's folder is on sys.path (so is the TOML's)
    study = jaxstab.load_study(str(out / "study.toml"))
    jaxstab.run_study(study, store=store, seeds=args.seeds)
    for factors, acc in jaxstab.results(store, study).values("test_accuracy"):
        print(f"{factors}: test accuracy {np.nanmean(acc):.3f} over {len(acc)} seeds")
    print("\n" + jaxstab.compare(store, study).format())
    print(f"\nreport: {jaxstab.report(store, out / 'report')[0]}")


if __name__ == "__main__":
    main()
