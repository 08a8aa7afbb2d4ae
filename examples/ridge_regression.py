"""Ridge regression by gradient descent, checked against its closed-form solution.

The objective is the mean squared error of w.x + b plus an L2 penalty on w (the
intercept b is not penalised, as usual):

    J(w, b) = mean((X w + b - y)**2) + lam * w.w

It is a convex quadratic, so gradient descent with a suitable step must reach the one
minimiser, which linear algebra gives directly. The two answers should agree to many
digits: a check on both srcgrad's gradient and the descent.

    python examples/ridge_regression.py
"""
import numpy as np

import srcgrad


def ridge_objective(w, b, X, y, lam):
    residual = X @ w + b - y
    return np.mean(residual ** 2) + lam * (w @ w)


# The objective's value comes for free from the same forward pass as its gradient.
value_and_grad_J = srcgrad.value_and_grad(ridge_objective, wrt=("w", "b"))


def closed_form(X, y, lam):
    """Set the gradient to zero: (A.T A / n + lam D) theta = A.T y / n, with A = [X, 1]
    and D the identity except for a 0 at the intercept."""
    n, d = X.shape
    A = np.column_stack([X, np.ones(n)])
    D = np.diag(np.r_[np.ones(d), 0.0])
    theta = np.linalg.solve(A.T @ A / n + lam * D, A.T @ y / n)
    return theta[:d], theta[d]


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    n, d, lam = 100, 5, 0.1
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = X @ w_true + 0.7 + 0.5 * rng.normal(size=n)

    # J is quadratic with Hessian H = 2 (A.T A / n + lam D); a step of 1 / (largest
    # eigenvalue of H) is the largest that is safe in every direction.
    A = np.column_stack([X, np.ones(n)])
    H = 2 * (A.T @ A / n + lam * np.diag(np.r_[np.ones(d), 0.0]))
    eta = 1 / np.linalg.eigvalsh(H).max()

    w, b = np.zeros(d), 0.0
    print(f"ridge regression, n={n}, d={d}, lam={lam}, step size {eta:.3f}")
    print(" step   objective J")
    for step in range(101):
        J, (dw, db) = value_and_grad_J(w, b, X, y, lam)
        if step in (0, 1, 3, 10, 30, 100):
            print(f"{step:5d}   {J:.10f}")
        w -= eta * dw
        b -= eta * db

    w_star, b_star = closed_form(X, y, lam)
    print()
    print("        gradient descent   closed form")
    for j in range(d):
        print(f"w[{j}]    {w[j]:14.10f}   {w_star[j]:14.10f}")
    print(f"b       {b:14.10f}   {b_star:14.10f}")
    difference = max(np.abs(w - w_star).max(), abs(b - b_star))
    print(f"largest difference: {difference:.2e}")

    # The penalty pulls the weights towards zero compared with plain least squares.
    w_ls = np.linalg.lstsq(A, y, rcond=None)[0][:d]
    print(f"|w|: ridge {np.linalg.norm(w):.4f} < least squares {np.linalg.norm(w_ls):.4f}")
