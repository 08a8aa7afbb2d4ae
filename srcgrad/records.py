"""Records: namedtuples and dataclasses, the two ways people name the parts of their
parameters (`p.W`, `p.b`).

As a parameter container (`grad(loss)(params, X)` with `params` a namedtuple or a
dataclass instance), a record is taken apart into its fields like a dict, and the gradient
is put back together as a record of the same type.  Built inside the loss (`p = P(W, b)`),
a record is a container known when the code is read: `p.W` is that array itself.
"""
import dataclasses


def record_fields(cls):
    """The field names of a namedtuple class or a dataclass type (those its constructor
    takes), else None."""
    if not isinstance(cls, type):
        return None
    if issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        return list(cls._fields)
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    return None


def is_namedtuple(cls):
    return isinstance(cls, type) and issubclass(cls, tuple) and record_fields(cls) is not None


def is_record(value):
    """Whether `value` is a namedtuple or a dataclass instance."""
    return not isinstance(value, type) and record_fields(type(value)) is not None


def holds_record(value):
    """Whether `value` is a record, or a dict / list / tuple holding one (at any depth)."""
    if is_record(value):
        return True
    if isinstance(value, dict):
        return any(holds_record(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_record(v) for v in value)
    return False


def items(value):
    """[(field, value)] of a record instance, in the order its constructor takes them."""
    fields = record_fields(type(value))
    if dataclasses.is_dataclass(value):
        every = [f.name for f in dataclasses.fields(value)]
        if every != fields:     # a field the constructor does not take: cannot rebuild it
            left = sorted(set(every) - set(fields))
            raise ValueError(f"its field(s) {', '.join(left)} are not arguments of "
                             f"{type(value).__name__}(...)")
    return [(f, getattr(value, f)) for f in fields]


def defaults(cls):
    """{field: default value} of the fields a record's constructor may leave out; a field
    made by a `default_factory` maps to the factory wrapped in `Factory`."""
    if is_namedtuple(cls):
        return dict(getattr(cls, "_field_defaults", {}))
    found = {}
    for f in dataclasses.fields(cls):
        if f.init and f.default is not dataclasses.MISSING:
            found[f.name] = f.default
        elif f.init and f.default_factory is not dataclasses.MISSING:
            found[f.name] = Factory(f.default_factory)
    return found


@dataclasses.dataclass(frozen=True)
class Factory:
    """A dataclass field's `default_factory` (called each time a default is needed)."""
    make: object
