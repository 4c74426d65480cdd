#!/usr/bin/env python3
"""Writes the tabular data sets shipped in datasets/tabular/ (issue 17: anomaly detection on tables).

Three real tables as scikit-learn bundles them (wine, breast-cancer, digits) and four synthetic sets,
one for each of the four kinds of anomaly of ADBench (Han et al., 2022, "ADBench: Anomaly Detection
Benchmark", section on synthetic anomalies): local, global, clustered and dependency. The synthetic
generator is this project's own; only the idea of the four kinds and their alpha values come from the
paper.

Everything is deterministic (fixed seeds, numpy's PCG64 Generator); run again with the same numpy and
scikit-learn versions and the files come out byte-identical.

    python3 scripts/tabular/make_tabular.py              # writes datasets/tabular/*.csv
    python3 scripts/tabular/make_tabular.py --check      # also prints smoke-check AUROCs
    python3 scripts/tabular/make_tabular.py --out DIR    # somewhere else

Needs numpy and scikit-learn only.
"""

import argparse
import hashlib
import re
import sys
from pathlib import Path

import numpy as np

SEED = 20240917  # the one seed of the synthetic sets; each set derives its own stream from it
N_FEATURES = 20
N_NORMAL = 2000
N_ANOMALY = 100
N_COMPONENTS = 3

# ADBench's alphas.
LOCAL_ALPHA = 5.0  # covariance scale of local anomalies
GLOBAL_ALPHA = 1.1  # box of global anomalies: 1.1 x the normal data's per-feature range
CLUSTER_ALPHA = 5.0  # mean scale of clustered anomalies
CLUSTER_TIGHT = 0.1  # covariance scale of clustered anomalies (tight clusters)

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# Writing


def safe_name(name):
    """A feature name as a lowercase identifier: runs of other characters become one '_'."""
    s = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    if not s or s[0].isdigit():
        s = "f_" + s
    return s


def fmt(v, digits):
    """A number as text: integers without a decimal point, others with `digits` significant digits."""
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return "%.*g" % (digits, v)


def write_csv(path, names, X, y, digits):
    names = [safe_name(n) for n in names]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate column names after sanitising")
    if "label" in names:
        raise ValueError(f"{path}: a feature is named 'label'")
    lines = [",".join(names + ["label"])]
    for row, lab in zip(X, y):
        lines.append(",".join(fmt(v, digits) for v in row) + "," + str(int(lab)))
    text = "\n".join(lines) + "\n"
    path.write_bytes(text.encode("ascii"))
    return text


def read_csv(path):
    """The file read back: (X, y) as written (the smoke check scores the shipped numbers)."""
    rows = path.read_text().splitlines()[1:]
    a = np.array([[float(v) for v in r.split(",")] for r in rows])
    return a[:, :-1], a[:, -1].astype(int)


# ---------------------------------------------------------------------------------------------
# Real tables (bundled with scikit-learn; no download)


def real_tables():
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    out = []
    for name, loader in (("wine", load_wine), ("breast-cancer", load_breast_cancer), ("digits", load_digits)):
        b = loader()
        out.append((name, list(b.feature_names), np.asarray(b.data, dtype=float), np.asarray(b.target)))
    return out


# ---------------------------------------------------------------------------------------------
# Synthetic sets


def random_spd(rng, d):
    """A random positive-definite covariance: a Wishart-like A A^T / d plus a floor, with a random
    overall scale, so components differ in shape, orientation and size."""
    a = rng.normal(size=(d, d))
    cov = a @ a.T / d + 0.05 * np.eye(d)
    return cov * rng.uniform(0.5, 1.5)


def make_mixture(rng, d, k):
    weights = rng.dirichlet(np.full(k, 5.0))
    means = rng.normal(0.0, 1.0, size=(k, d))
    covs = np.stack([random_spd(rng, d) for _ in range(k)])
    return weights, means, covs


def sample_mixture(rng, n, weights, means, covs):
    comp = rng.choice(len(weights), size=n, p=weights)
    x = np.empty((n, means.shape[1]))
    for j in range(len(weights)):
        idx = np.flatnonzero(comp == j)
        if idx.size:
            x[idx] = rng.multivariate_normal(means[j], covs[j], size=idx.size, method="cholesky")
    return x


def shuffled(rng, x_norm, x_anom):
    x = np.vstack([x_norm, x_anom])
    y = np.concatenate([np.zeros(len(x_norm), int), np.ones(len(x_anom), int)])
    p = rng.permutation(len(y))
    return x[p], y[p]


def synth_local(rng):
    w, m, c = make_mixture(rng, N_FEATURES, N_COMPONENTS)
    xn = sample_mixture(rng, N_NORMAL, w, m, c)
    xa = sample_mixture(rng, N_ANOMALY, w, m, c * LOCAL_ALPHA)
    return shuffled(rng, xn, xa)


def synth_global(rng):
    w, m, c = make_mixture(rng, N_FEATURES, N_COMPONENTS)
    xn = sample_mixture(rng, N_NORMAL, w, m, c)
    lo, hi = xn.min(axis=0), xn.max(axis=0)
    # The box around the normal data's range, widened by alpha about its centre (ADBench writes
    # alpha*min .. alpha*max, which is the same for ranges that straddle 0 and never shrinks here).
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * GLOBAL_ALPHA
    xa = rng.uniform(mid - half, mid + half, size=(N_ANOMALY, N_FEATURES))
    return shuffled(rng, xn, xa)


def synth_clustered(rng):
    w, m, c = make_mixture(rng, N_FEATURES, N_COMPONENTS)
    xn = sample_mixture(rng, N_NORMAL, w, m, c)
    xa = sample_mixture(rng, N_ANOMALY, w, m * CLUSTER_ALPHA, c * CLUSTER_TIGHT)
    return shuffled(rng, xn, xa)


def dependent_rows(rng, n, params):
    """Rows whose 20 features hang together: 4 latent factors drive every feature through a linear
    map plus a smooth nonlinearity of its own (a sine or a square of one factor), plus a little noise."""
    w_lin, kind, src, freq, amp, noise = params
    z = rng.normal(size=(n, w_lin.shape[0]))
    x = z @ w_lin
    zs = z[:, src]
    nonlin = np.where(kind == 0, np.sin(freq * zs), 0.5 * (zs**2 - 1.0))
    return x + amp * nonlin + noise * rng.normal(size=x.shape)


def synth_dependency(rng):
    n_latent = 4
    params = (
        rng.normal(size=(n_latent, N_FEATURES)) / np.sqrt(n_latent),
        rng.integers(0, 2, size=N_FEATURES),  # 0: sine, 1: square
        rng.integers(0, n_latent, size=N_FEATURES),
        rng.uniform(1.0, 2.5, size=N_FEATURES),
        rng.uniform(0.5, 1.5, size=N_FEATURES),
        0.1,
    )
    xn = dependent_rows(rng, N_NORMAL, params)
    # Anomalies: each feature drawn on its own from the normal data's marginal (a fresh normal sample,
    # each column resampled independently), so every value alone is typical but the joint is broken.
    pool = dependent_rows(rng, N_NORMAL, params)
    xa = np.stack([pool[rng.integers(0, N_NORMAL, size=N_ANOMALY), j] for j in range(N_FEATURES)], axis=1)
    return shuffled(rng, xn, xa)


SYNTHETIC = (
    ("synthetic-local", synth_local, 1),
    ("synthetic-global", synth_global, 2),
    ("synthetic-clustered", synth_clustered, 3),
    ("synthetic-dependency", synth_dependency, 4),
)


# ---------------------------------------------------------------------------------------------
# Smoke check


def smoke_check(out_dir):
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.preprocessing import StandardScaler

    def iforest(xtr, xte):
        return -IsolationForest(n_estimators=100, random_state=0).fit(xtr).score_samples(xte)

    def lof(xtr, xte):
        return -LocalOutlierFactor(novelty=True).fit(xtr).score_samples(xte)

    def mahalanobis(xtr, xte):
        mu = xtr.mean(0)
        prec = np.linalg.pinv(np.cov(xtr, rowvar=False))
        d = xte - mu
        return np.einsum("ij,jk,ik->i", d, prec, d)

    methods = (("iforest", iforest), ("lof", lof), ("mahalanobis", mahalanobis))
    print("smoke check (AUROC; real sets: one-class, mean over classes; synthetic: train on half the normals)",
          file=sys.stderr)
    for path in sorted(out_dir.glob("*.csv")):
        x, y = read_csv(path)
        rng = np.random.default_rng(0)
        if path.stem.startswith("synthetic-"):
            tasks = [(y == 0)]
        else:
            tasks = [(y == c) for c in np.unique(y)]
        res = {m: [] for m, _ in methods}
        for normal in tasks:
            idx = np.flatnonzero(normal)
            tr = rng.choice(idx, size=int(0.6 * len(idx)), replace=False)
            te = np.setdiff1d(np.arange(len(y)), tr)
            sc = StandardScaler().fit(x[tr])
            xtr, xte = sc.transform(x[tr]), sc.transform(x[te])
            truth = (~normal[te]).astype(int)
            for m, f in methods:
                res[m].append(roc_auc_score(truth, f(xtr, xte)))
        print(f"  {path.stem:22s} " + "  ".join(f"{m} {np.mean(v):.3f}" for m, v in res.items()), file=sys.stderr)


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "datasets" / "tabular")
    ap.add_argument("--check", action="store_true", help="print smoke-check AUROCs of the written files")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    written = []
    for name, names, x, y in real_tables():
        # The bundled values have at most a few decimals; 10 significant digits write them exactly.
        written.append((name, write_csv(args.out / f"{name}.csv", names, x, y, digits=10)))
    for name, gen, stream in SYNTHETIC:
        rng = np.random.default_rng([SEED, stream])
        x, y = gen(rng)
        names = [f"f{j}" for j in range(x.shape[1])]
        written.append((name, write_csv(args.out / f"{name}.csv", names, x, y, digits=8)))

    for name, text in written:
        lines = text.count("\n") - 1
        cols = text.split("\n", 1)[0].count(",")
        digest = hashlib.sha256(text.encode()).hexdigest()
        print(f"{digest}  tabular/{name}.csv  ({lines} rows, {cols} features, {len(text)} bytes)", file=sys.stderr)

    if args.check:
        smoke_check(args.out)


if __name__ == "__main__":
    main()
