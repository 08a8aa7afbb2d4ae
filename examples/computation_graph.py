"""The computation graph from the backpropagation notes: L(a, b, c) = (a + 3b) * c**2.

srcgrad reads `L` below and writes its gradient as ordinary Python. This script prints
that generated code, then the three partial derivatives at a=2, b=3, c=4 next to the
same numbers worked out by hand with the chain rule.

    python examples/computation_graph.py
"""
import srcgrad


def L(a, b, c):
    u = a + 3 * b          # the a-and-b branch of the graph
    v = c ** 2             # the c branch
    return u * v


# Gradient with respect to all three inputs, returned as a tuple in this order.
grad_L = srcgrad.grad(L, wrt=("a", "b", "c"))


if __name__ == "__main__":
    a, b, c = 2.0, 3.0, 4.0
    u, v = a + 3 * b, c ** 2
    print("L(a, b, c) = (a + 3b) * c**2   at a=2, b=3, c=4")
    print(f"forward pass:  u = a + 3b = {u:g},  v = c**2 = {v:g},  L = u * v = {L(a, b, c):g}")
    print()

    # Reading the generated code: the forward pass comes first (the `np.broadcast` line
    # only checks that L is a scalar, as a gradient needs), then the adjoints in reverse
    # order. dL/du is v and du/da is 1, so `v` itself is returned as dL/da: products with
    # 1 are folded away when the gradient is generated, not at every call.
    print("the gradient srcgrad generated (grad_L.source):")
    print()
    print(grad_L.source)

    da, db, dc = grad_L(a, b, c)
    print("partial   srcgrad   chain rule by hand")
    print(f"dL/da     {da:7.1f}   dL/du * du/da = v * 1  = {v:g} * 1 = {v * 1:.1f}")
    print(f"dL/db     {db:7.1f}   dL/du * du/db = v * 3  = {v:g} * 3 = {v * 3:.1f}")
    print(f"dL/dc     {dc:7.1f}   dL/dv * dv/dc = u * 2c = {u:g} * {2 * c:g} = {u * 2 * c:.1f}")
