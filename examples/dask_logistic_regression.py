"""Logistic regression on data that lives on a (local) Dask cluster, trained with SciPy's
L-BFGS-B driven by `srcgrad.value_and_grad`.

The data is a Dask array in chunks of rows, the parameters are NumPy arrays. Each call of the
generated gradient makes one pass over the data: its value and gradients come back together
from one `dask.compute`, and only they travel to this process. The fitted coefficients are
compared with scikit-learn's on the same data (computed in memory, so keep --rows modest when
you compare; 10,000,000 rows take a minute or two and a few GB on the workers).

    python examples/dask_logistic_regression.py                      # 10,000,000 rows
    python examples/dask_logistic_regression.py --rows 200000 --chunk 50000
"""
import argparse
import time

import dask.array as da
import numpy as np
import scipy.optimize
from dask.distributed import Client, LocalCluster

import srcgrad

L2 = 1e-4       # ridge penalty, so that the optimum is unique (and sklearn's C = 1 / (n L2))


def loss(w, b, X, y):
    """Mean log-loss of labels y in {0, 1}, plus a ridge penalty on w."""
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * L2 * np.sum(w * w)


def make_data(rows, chunk, features, seed=0):
    """Features and labels as Dask arrays, generated chunk by chunk on the workers."""
    truth = np.linspace(-2.0, 2.0, features)
    rs = da.random.RandomState(seed)
    X = rs.normal(size=(rows, features), chunks=(chunk, features))
    p = 1.0 / (1.0 + da.exp(-(X @ truth + 0.5)))
    y = (rs.uniform(size=rows, chunks=chunk) < p).astype(float)
    return X, y


def fit(X, y, features):
    value_and_grad = srcgrad.value_and_grad(loss, wrt=("w", "b"))
    calls = 0

    def objective(theta):      # scipy wants one vector: w and b packed
        nonlocal calls
        calls += 1
        value, (dw, db) = value_and_grad(theta[:-1], float(theta[-1]), X, y)
        return float(value), np.append(dw, db)

    result = scipy.optimize.minimize(objective, np.zeros(features + 1), jac=True, method="L-BFGS-B",
                                     options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 500})
    return result, calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-sklearn", action="store_true", help="skip the comparison")
    args = parser.parse_args(argv)

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):
        X, y = make_data(args.rows, args.chunk, args.features)
        X, y = X.persist(), y.persist()          # generated once, kept on the workers
        start = time.perf_counter()
        result, calls = fit(X, y, args.features)
        seconds = time.perf_counter() - start
        print(f"rows: {args.rows}  chunks: {X.numblocks[0]}  workers: {args.workers}")
        print(f"L-BFGS-B: {result.nit} iterations, {calls} passes over the data, {seconds:.1f} s")
        print("final loss:", f"{result.fun:.8f}")
        print("coefficients:", np.array2string(result.x[:-1], precision=4))
        print("intercept:", f"{result.x[-1]:.4f}")
        if not args.no_sklearn:
            from sklearn.linear_model import LogisticRegression
            Xn, yn = X.compute(), y.compute()
            reference = LogisticRegression(C=1.0 / (args.rows * L2), tol=1e-10, max_iter=1000)
            reference.fit(Xn, yn)
            gap = max(np.max(np.abs(reference.coef_[0] - result.x[:-1])),
                      abs(reference.intercept_[0] - result.x[-1]))
            print("scikit-learn coefficients:", np.array2string(reference.coef_[0], precision=4))
            print("largest difference from scikit-learn:", f"{gap:.2e}")


if __name__ == "__main__":
    main()
