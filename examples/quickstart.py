import numpy as np
import srcgrad


@srcgrad.grad                          # gradient with respect to the first parameter, w
def loss(w, X, y):
    r = X @ w - y
    return np.mean(r ** 2)


rng = np.random.default_rng(0)
X = rng.normal(size=(100, 3))
y = X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.normal(size=100)
w = np.zeros(3)
for step in range(200):
    w -= 0.1 * loss(w, X, y)           # plain gradient descent
print("w =", np.round(w, 2))
print(loss.source, end="")
