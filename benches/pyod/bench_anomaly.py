#!/usr/bin/env python3
"""The PyOD / scikit-learn baselines of `cargo xtask bench-anomaly`, on exactly the splits it wrote.

    python3 bench_anomaly.py --splits DIR --out FILE.json [--methods pyod-ae,pyod-vae,iforest,ocsvm,pca]
                             [--threads 2] [--device cpu]

DIR holds <task>/seed-<s>/train.csv and <task>/seed-<s>/test.csv: a header row, the feature columns,
then a last column `label` (train: all 0; test: 0 normal, 1 anomaly), not standardized. For every task
and seed (sorted) and every method, the method is fitted on the train features and scores the test
features; the record keeps AUROC (roc_auc_score), AUPRC (average_precision_score, anomaly = positive
class) and the wall time of fit + score in seconds:

    {"task": ..., "seed": ..., "method": ..., "auroc": ..., "auprc": ..., "seconds": ...}

A method that fails on a split gets {"task", "seed", "method", "error": "..."} instead and the run goes on.
The JSON list is rewritten (temp file, then rename) after every record, so a killed run keeps what it
finished. Progress goes to stderr.

Preprocessing: a StandardScaler fitted on train, applied to train and test, for every method. Each
method runs with its library defaults, except random_state set to the split's seed where the class
takes one, verbose=0 for the torch models (a progress bar only), and the one exception noted at
TORCH_BATCH below. PyOD's AutoEncoder and VAE standardize once more inside (preprocessing=True, their
default), which is left alone.
"""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

METHODS = ("pyod-ae", "pyod-vae", "iforest", "ocsvm", "pca")

# PyOD's deep models train with DataLoader(batch_size=32, drop_last=True): a training set of fewer
# than 32 rows gives no batch at all and fit() fails (UnboundLocalError on `loss`). Only then the
# batch size is lowered to the number of training rows, and the record says so in "note".
TORCH_BATCH = 32


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", type=Path, required=True, help="folder of <task>/seed-<s>/{train,test}.csv")
    ap.add_argument("--out", type=Path, required=True, help="JSON file to write")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    ap.add_argument("--threads", type=int, default=2, help="torch / BLAS / OpenMP threads (default 2)")
    ap.add_argument("--device", default=None,
                    help="torch device for pyod-ae and pyod-vae (default: PyOD's, cuda:0 if available, else cpu)")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        ap.error(f"unknown method(s) {unknown}; choose from {','.join(METHODS)}")
    args.methods = methods
    if args.threads < 1:
        ap.error("--threads must be at least 1")
    return args


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Splits


def seed_of(path):
    m = re.fullmatch(r"seed-(\d+)", path.name)
    return int(m.group(1)) if m else None


def find_splits(root):
    """[(task, seed, folder)] sorted by task name, then seed number."""
    out = []
    for task_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for seed_dir in task_dir.iterdir():
            s = seed_of(seed_dir)
            if s is not None and seed_dir.is_dir():
                out.append((task_dir.name, s, seed_dir))
    out.sort(key=lambda t: (t[0], t[1]))
    return out


def read_split_csv(path):
    import numpy as np

    with open(path, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    if header[-1].strip() != "label":
        raise ValueError(f"{path}: last column is {header[-1]!r}, expected 'label'")
    a = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    if a.shape[1] != len(header):
        raise ValueError(f"{path}: {a.shape[1]} columns in the rows, {len(header)} in the header")
    return a[:, :-1], a[:, -1].astype(int)


# ---------------------------------------------------------------------------------------------
# Methods


def seed_everything(seed):
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def detector_classes(methods):
    """The PyOD classes of the chosen methods, imported once before any timing starts. A method whose
    import fails maps to the exception, which each of its records then reports."""
    classes = {}
    for m in methods:
        try:
            classes[m] = import_detector(m)
        except Exception as e:
            log(f"warning: {m}: {type(e).__name__}: {e}")
            classes[m] = e
    return classes


def import_detector(m):
    if m == "pyod-ae":
        from pyod.models.auto_encoder import AutoEncoder as cls
    elif m == "pyod-vae":
        from pyod.models.vae import VAE as cls
    elif m == "iforest":
        from pyod.models.iforest import IForest as cls
    elif m == "ocsvm":
        from pyod.models.ocsvm import OCSVM as cls
    elif m == "pca":
        from pyod.models.pca import PCA as cls
    else:
        raise ValueError(m)
    return cls


def warm_up(classes, device):
    """One untimed fit of each torch model on a small random table: the first fit in a process pays a
    few seconds of torch's lazy initialisation, which is no part of the method's cost."""
    import numpy as np

    x = np.random.default_rng(0).normal(size=(64, 4))
    for m in ("pyod-ae", "pyod-vae"):
        if m in classes and not isinstance(classes[m], Exception):
            try:
                det, _ = make_detector(classes, m, 0, len(x), device)
                det.fit(x)
                det.decision_function(x)
            except Exception:
                pass  # the real fits report it


def make_detector(classes, method, seed, n_train, device):
    """(detector, note or None). Library defaults, with random_state = seed where the class has it."""
    cls = classes[method]
    if isinstance(cls, Exception):
        raise cls
    if method in ("pyod-ae", "pyod-vae"):
        seed_everything(seed)
        kw = {"random_state": seed, "verbose": 0}
        note = None
        if device is not None:
            kw["device"] = device
        if n_train < TORCH_BATCH:
            kw["batch_size"] = n_train
            note = f"batch_size {n_train} (train has fewer rows than the default {TORCH_BATCH})"
        return cls(**kw), note
    if method in ("iforest", "pca"):
        return cls(random_state=seed), None
    return cls(), None  # ocsvm: no random_state


def run_one(classes, method, seed, x_train, x_test, y_test, device):
    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    t0 = time.perf_counter()
    det, note = make_detector(classes, method, seed, len(x_train), device)
    det.fit(x_train)
    scores = np.asarray(det.decision_function(x_test), dtype=np.float64).ravel()
    seconds = time.perf_counter() - t0
    if scores.shape[0] != len(y_test):
        raise ValueError(f"{scores.shape[0]} scores for {len(y_test)} test rows")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{int(np.sum(~np.isfinite(scores)))} non-finite scores")
    rec = {
        "auroc": float(roc_auc_score(y_test, scores)),
        "auprc": float(average_precision_score(y_test, scores)),
        "seconds": seconds,
    }
    if note:
        rec["note"] = note
    return rec


# ---------------------------------------------------------------------------------------------


def write_json(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    # Thread counts before numpy / torch load their BLAS and OpenMP runtimes.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import warnings

    import numpy as np
    import pyod
    import sklearn
    import sklearn.metrics  # noqa: F401 (loaded before anything is timed)
    import torch
    from sklearn.preprocessing import StandardScaler

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)

    if not args.splits.is_dir():
        log(f"error: {args.splits} is not a folder")
        return 2
    splits = find_splits(args.splits)
    if not splits:
        log(f"error: no <task>/seed-<s>/ folders under {args.splits}")
        return 2

    classes = detector_classes(args.methods)
    warm_up(classes, args.device)

    device = args.device or ("cuda:0" if torch.cuda.is_available() else "cpu")
    log(f"pyod {pyod.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"torch {torch.__version__} ({device}, {args.threads} threads); "
        f"{len(splits)} split(s) x {len(args.methods)} method(s)")

    records = []
    n_err = 0
    for task, seed, folder in splits:
        head = {"task": task, "seed": seed}
        try:
            x_tr, y_tr = read_split_csv(folder / "train.csv")
            x_te, y_te = read_split_csv(folder / "test.csv")
            if x_tr.shape[1] != x_te.shape[1]:
                raise ValueError(f"train has {x_tr.shape[1]} features, test {x_te.shape[1]}")
            if np.any(y_tr != 0):
                log(f"[{task} seed-{seed}] warning: {int(np.sum(y_tr != 0))} train rows not labelled 0 (labels ignored)")
            scaler = StandardScaler().fit(x_tr)
            x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
        except Exception as e:  # a broken split: every method records the error
            msg = f"{type(e).__name__}: {e}"
            log(f"[{task} seed-{seed}] split unreadable: {msg}")
            for m in args.methods:
                records.append({**head, "method": m, "error": msg})
                n_err += 1
            write_json(args.out, records)
            continue
        log(f"[{task} seed-{seed}] train {x_tr.shape[0]}x{x_tr.shape[1]}, "
            f"test {x_te.shape[0]} ({int(y_te.sum())} anomalies)")
        for m in args.methods:
            try:
                rec = {**head, "method": m, **run_one(classes, m, seed, x_tr, x_te, y_te, args.device)}
                extra = f"  ({rec['note']})" if "note" in rec else ""
                log(f"  {m:9s} auroc {rec['auroc']:.4f}  auprc {rec['auprc']:.4f}  {rec['seconds']:.3f} s{extra}")
            except Exception as e:
                rec = {**head, "method": m, "error": f"{type(e).__name__}: {e}"}
                n_err += 1
                log(f"  {m:9s} error: {rec['error']}")
            records.append(rec)
            write_json(args.out, records)

    log(f"wrote {len(records)} record(s) to {args.out}" + (f", {n_err} error(s)" if n_err else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
