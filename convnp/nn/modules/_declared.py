"""One base for the layers that only hold settings and call a functional op (activations,
dropouts, losses, distances): their constructors are declared as data, not written out.

A subclass lists its constructor's parameters in ``_params``: ``(name, default)`` pairs in
torch's order with torch's names and defaults (:data:`REQUIRED` for a parameter without a
default; the marker :data:`KW_ONLY` before keyword-only ones). From that the base builds an
``__init__`` with exactly that signature (``inspect.signature`` shows it), which stores each
argument as an attribute of the same name (``_store`` may take some over, as the losses do with
their deprecated ``size_average``/``reduce``) and then calls ``_check()`` for value checks.

``forward(*inputs)`` calls the functional op ``_fn`` on the inputs with the settings named in
``_fn_args`` as keywords (by default every parameter but ``inplace``, ``size_average`` and
``reduce``: torch's functional ops take the layers' settings under the same names).
``extra_repr`` prints the settings named in ``_repr_args`` as ``name=value`` (``_repr`` can be a
format string instead), then ``inplace=True`` when it is set (``_show_inplace`` "always" prints
it either way, as torch's dropouts do; "never" hides it, as torch's Hardswish does).
"""

from __future__ import annotations

import inspect

from convnp.nn.modules.module import Module

REQUIRED = inspect.Parameter.empty
KW_ONLY = "*"
_NOT_PASSED = ("inplace", "size_average", "reduce")


def _signature(params: tuple) -> inspect.Signature:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    out = [inspect.Parameter("self", kind)]
    for entry in params:
        if entry == KW_ONLY:
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        name, default = entry
        hint = type(default).__name__ if isinstance(default, (bool, int, float, str)) else \
            inspect.Parameter.empty
        out.append(inspect.Parameter(name, kind, default=default, annotation=hint))
    return inspect.Signature(out, return_annotation=None)


def _declared_init(params: tuple):
    sig = _signature(params)

    def __init__(self, *args, **kwargs) -> None:
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{type(self).__name__}(): {e}; the signature is "
                            f"{type(self).__name__}{_public(sig)}") from None
        bound.apply_defaults()
        Module.__init__(self)
        settings = dict(bound.arguments)
        del settings["self"]
        self._store(**settings)
        self._check()

    __init__.__signature__ = sig
    return __init__


def _public(sig: inspect.Signature) -> inspect.Signature:
    return sig.replace(parameters=list(sig.parameters.values())[1:])


class _DeclaredLayer(Module):
    """A layer whose constructor is declared by ``_params`` and whose forward calls ``_fn``
    (see the module docstring)."""

    _params: tuple = ()
    _fn = None
    _fn_args: tuple | None = None
    _repr_args: tuple | None = None
    _repr: str | None = None
    _show_inplace = "if_set"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("_fn")
        if fn is not None and not isinstance(fn, staticmethod):
            cls._fn = staticmethod(fn)
        if "_params" in cls.__dict__ and "__init__" not in cls.__dict__:
            cls.__init__ = _declared_init(cls._params)

    @classmethod
    def _names(cls) -> list[str]:
        return [entry[0] for entry in cls._params if entry != KW_ONLY]

    def _store(self, **settings) -> None:
        for name, value in settings.items():
            setattr(self, name, value)

    def _check(self) -> None:
        """Value checks of the settings (torch's constructor errors); none by default."""

    @classmethod
    def _passed_names(cls) -> tuple:
        """The settings ``forward`` passes to ``_fn`` as keywords, found once per class."""
        names = cls.__dict__.get("_passed")
        if names is None:
            names = cls._fn_args
            if names is None:
                names = tuple(n for n in cls._names() if n not in _NOT_PASSED)
            cls._passed = names
        return names

    def _fn_kwargs(self) -> dict:
        return {name: getattr(self, name) for name in self._passed_names()}

    def forward(self, *inputs, **named):
        return self._fn(*inputs, **named, **self._fn_kwargs())

    def extra_repr(self) -> str:
        if self._repr is not None:
            text = self._repr.format(**self.__dict__)
        else:
            names = self._repr_args
            if names is None:
                names = [n for n in self._names() if n not in _NOT_PASSED]
            text = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        inplace = getattr(self, "inplace", None)
        if inplace is None or self._show_inplace == "never" or (
                self._show_inplace == "if_set" and not inplace):
            return text
        return f"{text}, inplace={inplace}" if text else f"inplace={inplace}"


def layer_class(name: str, base: type, fn, doc: str, module: str, **attrs) -> type:
    """A ``base`` subclass named ``name`` (in ``module``) calling ``fn``: for sibling layers
    that differ only in their op, docstring and declared settings (``attrs``)."""
    return type(name, (base,), {"_fn": fn, "__doc__": doc, "__module__": module,
                                "__qualname__": name, **attrs})
