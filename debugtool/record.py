"""Records: classes of named fields, declared like dataclasses, that cost nothing to define.

``@dataclass`` builds each class's ``__init__``, ``__repr__`` and ``__eq__`` by compiling source
text when the class is defined, and importing ``dataclasses`` imports ``inspect`` (and with it
``ast``, ``dis``, ``tokenize`` and ``enum``): about 15 ms of a command's start before the model's
twenty classes, on a path (``debugtool exec``, ``ps``) whose whole budget is a few tens of ms.
``@record`` keeps the declaration and the behaviour the code relies on and defers the work:

- the fields are the class's annotations in order (``ClassVar`` ones excepted), the fields of
  record base classes first; a default is a class attribute, or ``field(default_factory=...)``;
- ``__init__`` takes them in that order, positionally or by name; it is compiled (as
  dataclasses does it) once a class has made a few records, and until then sets the fields one
  by one, so a class made once costs no compiling at all; ``__post_init__`` runs after;
- ``__eq__`` compares two records of the same class field by field; ``__repr__`` shows them;
- ``frozen=True`` refuses assignment after ``__init__`` and makes instances hashable by their
  fields (a mutable record is unhashable, as a dataclass is); ``slots=True`` gives ``__slots__``.

``fields``, ``replace``, ``asdict`` and ``is_record`` are the module functions the code needs.
``dataclass_transform`` tells mypy that ``@record`` classes behave as dataclasses do. A generic
record (``Column[T]``) takes ``Generic`` and ``TypeVar`` from here: ``typing``'s for type
checkers, stand-ins that cost nothing at run time.
tests/unit/test_record.py holds it to ``dataclasses``' behaviour.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Generic, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_options):
        return lambda decorator: decorator

    class Generic:
        """``typing.Generic`` for type checkers; at run time a base class that takes a
        parameter and does nothing with it (``typing`` costs about 4 ms to import)."""

        __slots__ = ()

        def __class_getitem__(cls, _parameters):
            return cls

    def TypeVar(name, *_constraints, **_options):  # noqa: N802 - typing.TypeVar's name
        """``typing.TypeVar`` for type checkers; at run time only its name."""
        return name

    T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class Field:
    """A field's default: a value, or a factory called for each new record."""

    __slots__ = ("default", "default_factory")

    def __init__(self, default: Any, default_factory: Any) -> None:
        self.default = default
        self.default_factory = default_factory


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING) -> Any:
    """Return a field's default for a record class body: ``field(default_factory=list)``."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("a field takes a default or a default_factory, not both")
    return Field(default, default_factory)


#: Attribute of a record class: its field names in order.
FIELDS = "__record_fields__"
#: Attribute of a record class: {name: Field} of the fields that have a default.
_DEFAULTS = "__record_defaults__"


@dataclass_transform(field_specifiers=(field,))
def record(cls: Any = None, /, *, frozen: bool = False, slots: bool = False) -> Any:
    """Make ``cls`` a record (usable bare, ``@record``, or with options, ``@record(frozen=True)``)."""

    def wrap(cls: type) -> type:
        return _make(cls, frozen, slots)

    return wrap if cls is None else wrap(cls)


def _make(cls: Any, frozen: bool, slots: bool) -> Any:
    names: list[str] = []
    defaults: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        if FIELDS in base.__dict__:
            for name in base.__dict__[FIELDS]:
                if name not in names:
                    names.append(name)
            defaults.update(base.__dict__[_DEFAULTS])
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if "ClassVar" in str(annotation):
            continue
        if name not in names:
            names.append(name)
        value = cls.__dict__.get(name, MISSING)
        if isinstance(value, Field):
            defaults[name] = value
        elif value is not MISSING:
            defaults[name] = Field(value, MISSING)
        elif name in defaults:
            del defaults[name]
    seen_default = False
    for name in names:
        if name in defaults:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with")
    if slots:
        body = {k: v for k, v in cls.__dict__.items() if k not in names and k != "__dict__"}
        body.pop("__weakref__", None)
        body["__slots__"] = tuple(n for n in names if n not in _slotted(cls))
        cls = type(cls)(cls.__name__, cls.__bases__, body)
    else:
        for name, default in defaults.items():
            if isinstance(cls.__dict__.get(name), Field):
                if default.default_factory is MISSING:
                    setattr(cls, name, default.default)
                else:
                    delattr(cls, name)
    setattr(cls, FIELDS, tuple(names))
    setattr(cls, _DEFAULTS, defaults)
    cls.__init__ = _lazy_init(cls, frozen)
    if "__repr__" not in cls.__dict__:
        cls.__repr__ = _repr
    if "__eq__" not in cls.__dict__:
        cls.__eq__ = _eq
    if frozen:
        cls.__setattr__ = _refuse_set
        cls.__delattr__ = _refuse_delete
        cls.__hash__ = _hash
    elif "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
        cls.__hash__ = None
    cls.__match_args__ = tuple(names)  # type: ignore[misc]
    return cls


def _slotted(cls: type) -> set[str]:
    return {n for base in cls.__mro__[1:] for n in getattr(base, "__slots__", ())}


#: How many records of a class ``__init__`` makes field by field before it compiles one for
#: the class: compiling costs about 0.2 ms, the generic one a few microseconds a record more.
_COMPILE_AFTER = 16


def _lazy_init(cls: Any, frozen: bool) -> Callable[..., None]:
    """Return the ``__init__`` a record class starts with: it sets the fields one by one (no
    compiling for the records a command makes once) and, from the ``_COMPILE_AFTER``th record
    of the class on, replaces itself with a compiled one (the thousands of a process list)."""
    made = [0]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        made[0] += 1
        if made[0] >= _COMPILE_AFTER and cls.__dict__.get("__init__") is __init__:
            init = _compile_init(cls, frozen)
            cls.__init__ = init
            init(self, *args, **kwargs)
            return
        names = cls.__dict__[FIELDS]
        defaults = cls.__dict__[_DEFAULTS]
        if len(args) > len(names):
            raise TypeError(
                f"{cls.__name__}() takes {len(names)} positional arguments, {len(args)} given"
            )
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in defaults and name not in names:
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
            values[name] = value
        for name in names:
            if name in values:
                value = values[name]
            else:
                default = defaults.get(name)
                if default is None:
                    raise TypeError(f"{cls.__name__}() missing required argument {name!r}")
                if default.default_factory is MISSING:
                    value = default.default
                else:
                    value = default.default_factory()
            object.__setattr__(self, name, value)
        if hasattr(self, "__post_init__"):
            self.__post_init__()

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _compile_init(cls: Any, frozen: bool) -> Callable[..., None]:
    """Compile ``cls``'s ``__init__``: one assignment a field, as ``dataclasses`` writes it."""
    names = cls.__dict__[FIELDS]
    defaults = cls.__dict__[_DEFAULTS]
    scope: dict[str, Any] = {"MISSING": MISSING, "_set": object.__setattr__}
    params, body = ["self"], []
    for name in names:
        default = defaults.get(name)
        if default is None:
            params.append(name)
            value = name
        elif default.default_factory is MISSING:
            scope[f"_d_{name}"] = default.default
            params.append(f"{name}=_d_{name}")
            value = name
        else:
            scope[f"_f_{name}"] = default.default_factory
            params.append(f"{name}=MISSING")
            value = f"_f_{name}() if {name} is MISSING else {name}"
        body.append(f"_set(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__({', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, scope)  # noqa: S102 - the text is built from the class's own field names
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _repr(self: Any) -> str:
    values = ", ".join(f"{name}={getattr(self, name)!r}" for name in getattr(self, FIELDS))
    return f"{type(self).__qualname__}({values})"


def _eq(self: Any, other: Any) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(getattr(self, n) == getattr(other, n) for n in getattr(self, FIELDS))


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, name) for name in getattr(self, FIELDS)))


def _refuse_set(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delete(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def is_record(obj: Any) -> bool:
    """Return whether ``obj`` is a record class or an instance of one."""
    return hasattr(obj if isinstance(obj, type) else type(obj), FIELDS)


def fields(obj: Any) -> tuple[str, ...]:
    """Return the field names of a record class or instance, in order."""
    names: tuple[str, ...] = getattr(obj, FIELDS)
    return names


def replace(obj: T, **changes: Any) -> T:
    """Return a copy of record ``obj`` with ``changes`` applied (through ``__init__``)."""
    values = {name: getattr(obj, name) for name in fields(obj)}
    values.update(changes)
    return type(obj)(**values)


def asdict(obj: Any) -> Any:
    """Return a record as a dict of its fields, records in it (and in lists, tuples and dicts)
    turned into dicts too."""
    if is_record(obj) and not isinstance(obj, type):
        return {name: asdict(getattr(obj, name)) for name in fields(obj)}
    if isinstance(obj, (list, tuple)):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj
