"""The type stubs `_codeb.pyi` match the native module, so the two cannot drift apart.

The stub file is read from the installed package (which also proves it and
`py.typed` ship in the wheel) and parsed with `ast`; the native module is
inspected at run time: its names, each class's bases and members, and each
method's parameters (names, kinds and defaults, from `__text_signature__`).
The result classes' part of the stubs is generated from the SDK's types and
checked against them by codeb-py's own test (`cargo test -p codeb-py stubs`);
this suite checks it against what the module holds at run time.
"""

from __future__ import annotations

import ast
import inspect
import pathlib
from typing import Any

import pytest

import codeb
import codeb._codeb as native

PACKAGE = pathlib.Path(codeb.__file__).parent
STUB = ast.parse((PACKAGE / "_codeb.pyi").read_text())

# Dunder methods a class may define for itself; pyo3 adds others (__new__, __doc__, ...).
OWN_DUNDERS = {
    "__repr__", "__str__", "__len__", "__iter__", "__eq__", "__hash__", "__bool__", "__contains__", "__enter__", "__exit__"
}


def stub_classes() -> dict[str, ast.ClassDef]:
    return {node.name: node for node in STUB.body if isinstance(node, ast.ClassDef)}


def stub_names() -> set[str]:
    names: set[str] = set()
    for node in STUB.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_") or (n.startswith("__") and n.endswith("__"))}


def native_names() -> set[str]:
    return {n for n in vars(native) if not n.startswith("_") or n == "__version__"}


def stub_members(cls: ast.ClassDef) -> dict[str, ast.AST]:
    return {
        node.name if isinstance(node, ast.FunctionDef) else node.target.id: node  # type: ignore[union-attr]
        for node in cls.body
        if isinstance(node, ast.FunctionDef) or (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name))
    }


def stub_overloads(cls: ast.ClassDef, name: str) -> list[ast.FunctionDef]:
    """Every definition of a method: one, or its `@overload`s (the last is the general one)."""
    return [node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == name]


def is_overload(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "overload" for d in node.decorator_list)


def native_members(cls: type) -> set[str]:
    return {n for n in vars(cls) if not n.startswith("_") or n in OWN_DUNDERS}


def is_property(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
    )


def is_static(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list
    )


def stub_parameters(fn: ast.FunctionDef) -> list[tuple[str, str, Any]]:
    """(name, kind, default) of each parameter, without `self`; `inspect.Parameter.empty` when required."""
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults: list[Any] = [inspect.Parameter.empty] * (len(positional) - len(args.defaults))
    defaults += [ast.literal_eval(d) for d in args.defaults]
    out = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = "POSITIONAL_ONLY" if i < len(args.posonlyargs) else "POSITIONAL_OR_KEYWORD"
        out.append((arg.arg, kind, default))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append((arg.arg, "KEYWORD_ONLY", inspect.Parameter.empty if default is None else ast.literal_eval(default)))
    if out and out[0][0] == "self" and not is_static(fn):
        out = out[1:]
    return out


def native_parameters(fn: Any) -> list[tuple[str, str, Any]]:
    signature = inspect.signature(fn)
    return [(p.name, p.kind.name, p.default) for p in signature.parameters.values() if p.name != "self"]


def test_the_stub_and_the_py_typed_marker_ship_with_the_package() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_codeb.pyi").is_file()


def test_the_stub_names_exactly_what_the_native_module_exports() -> None:
    assert stub_names() == native_names()


@pytest.mark.parametrize("name", sorted(n for n in vars(native) if isinstance(getattr(native, n), type)))
def test_each_class_has_the_bases_and_members_its_stub_declares(name: str) -> None:
    cls = getattr(native, name)
    stub = stub_classes()[name]

    assert [b.id for b in stub.bases if isinstance(b, ast.Name)] == [
        b.__name__ for b in cls.__bases__ if b is not object
    ]
    members = stub_members(stub)
    if issubclass(cls, BaseException):
        # Exceptions carry their attributes on each raised instance, not on the class.
        assert native_members(cls) == set()
        return
    assert set(members) == native_members(cls)
    for member, node in members.items():
        value = inspect.getattr_static(cls, member)
        if is_property(node):
            # A pyo3 getter (getset_descriptor), or a result class's property per SDK field; never settable.
            assert inspect.isdatadescriptor(value), f"{name}.{member} is an attribute"
            assert getattr(value, "fset", None) is None, f"{name}.{member} is read-only"
        elif is_static(node):
            assert isinstance(value, staticmethod), f"{name}.{member} is a staticmethod"
        elif member not in OWN_DUNDERS:
            assert callable(value) and not isinstance(value, staticmethod), f"{name}.{member} is a method"


@pytest.mark.parametrize(
    "qualified",
    sorted(
        f"{cls}.{member}"
        for cls, node in stub_classes().items()
        for member, fn in stub_members(node).items()
        if isinstance(fn, ast.FunctionDef) and not is_property(fn) and member not in OWN_DUNDERS
    ),
)
def test_each_method_has_the_parameters_and_defaults_its_stub_declares(qualified: str) -> None:
    cls_name, member = qualified.split(".")
    fn = stub_members(stub_classes()[cls_name])[member]
    assert isinstance(fn, ast.FunctionDef)

    native_fn = getattr(getattr(native, cls_name), member)
    assert stub_parameters(fn) == native_parameters(native_fn)
    overloads = stub_overloads(stub_classes()[cls_name], member)
    if len(overloads) > 1:
        # Overloads narrow types only: all are @overload, name the same parameters
        # in the same order, and the last (general) one is the exact signature above.
        assert all(is_overload(o) for o in overloads)
        names = [p[0] for p in native_parameters(native_fn)]
        assert all([p[0] for p in stub_parameters(o)] == names for o in overloads)


def test_the_error_attributes_the_stub_declares_are_on_raised_errors() -> None:
    declared = set(stub_members(stub_classes()["CodebError"]))
    with pytest.raises(native.CodebError) as raised:
        native.Platform.memory().releases("Bad Name", "staging")

    assert declared == {"kind", "message", "context", "temporary"}
    assert all(hasattr(raised.value, attribute) for attribute in declared)


def test_the_stub_parser_sees_a_drift_when_there_is_one() -> None:
    drifted = ast.parse("def deploy(self, path, env, image=None, dry_run=True, progress=None): ...").body[0]
    assert isinstance(drifted, ast.FunctionDef)

    assert stub_parameters(drifted) != native_parameters(native.Platform.deploy)
