"""The names generated code uses for NumPy and the runtime helpers, and the objects
behind them: a name the user's function already binds to the object (their `np`) is
used as it is; any other object is injected under a fresh name when the code is compiled.
"""
import gast

from .scope import lookup_chain


class Namespace:
    """The names generated code uses for NumPy and runtime helpers, and what to inject."""

    def __init__(self, func, namer, injected=None):
        self.func, self.namer = func, namer
        self.injected = dict(injected or {})   # name -> object, bound as closure variables
        self._names = {}        # id(object) -> name
        self.objects = {}       # name -> the object it refers to, for every name handed out

    def reference(self, obj, preferred):
        name = self._names.get(id(obj))
        if name is None:
            code = self.func.__code__
            closure = dict(zip(code.co_freevars, (c.cell_contents for c in self.func.__closure__ or ())))
            if preferred in self.namer.taken and (self.func.__globals__.get(preferred, None) is obj
                                                  or closure.get(preferred, None) is obj):
                # the user's own global (e.g. their `np`), or a cell of the closure (a
                # generated gradient's `np`, when jvp differentiates it)
                name = preferred
            else:
                name = self.namer.fresh(preferred)
                self.injected[name] = obj
            self._names[id(obj)] = name
        self.objects[name] = obj
        return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)

    def object_of(self, node):
        """The object a name refers to, if this namespace handed the name out."""
        return self.objects.get(node.id) if isinstance(node, gast.Name) else None

    def lookup(self, node):
        """The object a global chain like `np.linalg.norm` refers to in the user's function."""
        return lookup_chain(self.func, node, self.injected)
