"""The computation-graph example from the backpropagation notes: L = (a + 3b) * c**2.

Run it to see srcgrad's generated gradient and the three partial derivatives at
a=2, b=3, c=4, next to the chain rule worked by hand.
"""
import srcgrad


def L(a, b, c):
    u = a + 3 * b          # u depends on a and b
    v = c ** 2             # v depends on c
    return u * v           # L = u * v


grad_L = srcgrad.grad(L, wrt=(0, 1, 2))

if __name__ == "__main__":
    print("Generated gradient:\n")
    print(grad_L.source)
    a, b, c = 2.0, 3.0, 4.0
    da, db, dc = grad_L(a, b, c)
    u, v = a + 3 * b, c ** 2
    print("partial   srcgrad   by hand (chain rule)")
    print(f"dL/da     {da:7.1f}   dL/du * du/da = v * 1      = {v * 1:.1f}")
    print(f"dL/db     {db:7.1f}   dL/du * du/db = v * 3      = {v * 3:.1f}")
    print(f"dL/dc     {dc:7.1f}   dL/dv * dv/dc = u * 2c     = {u * 2 * c:.1f}")
    assert (da, db, dc) == (16.0, 48.0, 88.0)
