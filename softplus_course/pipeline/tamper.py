"""Static checks of answer cells for attempts to change how the tests judge them.

A student's answer cell runs in the same kernel as the tests, so it can, in principle, replace
what the tests use: ``np.allclose = lambda *a: True``, ``builtins.abs = ...``, a new
``check_call``. The hidden tests already avoid the usual targets, and this scan makes the rest
visible: it reports every answer cell that assigns to an attribute of a module, rebinds a name
the lesson's setup cell defined, or reaches for ``setattr``/``globals()``/``sys.modules``.
Grading gives such a submission no points and marks it for the instructor's review.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

__all__ = ["find_tampering", "names_bound_by"]

# Names that refer to modules in every lesson, whatever the answer cell imports.
MODULE_NAMES = frozenset(
    {"np", "numpy", "math", "builtins", "__builtins__", "torch", "mpmath", "sys", "warnings"}
    | {"softplus_course", "nbgrader", "operator", "functools"}
)
REFLECTION_CALLS = frozenset({"setattr", "delattr", "globals", "vars", "__import__"})


def names_bound_by(source: str) -> set[str]:
    """Top-level names a cell binds (imports, assignments, definitions)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - ast.unparse handles every parsed node
        return "?"


def find_tampering(cell_name: str, source: str, protected: Iterable[str] = ()) -> list[str]:
    """Describe each tampering construct in one answer cell (empty list if none).

    Parameters
    ----------
    cell_name : str
        The answer cell's grade id, used in the descriptions.
    source : str
        The cell's code. Code that does not parse is not scanned (it cannot run either).
    protected : iterable of str
        Names the lesson's setup cell binds (``np``, ``check_call``, ...): rebinding them is
        reported, re-importing a module under its usual name is not.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    modules = set(MODULE_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    protected = set(protected)
    findings: list[str] = []

    def target(node: ast.AST, verb: str) -> None:
        if isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                target(element, verb)
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            root = _root(node)
            name = root.id if isinstance(root, ast.Name) else None
            if name in modules or name in protected or _is_reflection_call(root):
                findings.append(f"cell {cell_name} {verb} {_dotted(node)}")
        elif isinstance(node, ast.Name) and node.id in protected:
            findings.append(f"cell {cell_name} rebinds {node.id}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                target(t, "assigns")
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            target(node.target, "assigns")
        elif isinstance(node, ast.Delete):
            for t in node.targets:
                target(t, "deletes")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name in protected:
                findings.append(f"cell {cell_name} redefines {node.name}")
        elif isinstance(node, ast.Call) and _is_reflection_call(node) and node.args:
            name = node.func.id  # type: ignore[attr-defined]
            first = _root(node.args[0])
            first_name = first.id if isinstance(first, ast.Name) else None
            suspicious = first_name in modules or first_name in protected
            if name in {"setattr", "delattr"} and (suspicious or _is_reflection_call(first)):
                findings.append(f"cell {cell_name} calls {name}({_dotted(node.args[0])}, ...)")
        elif isinstance(node, ast.Attribute) and _dotted(node) == "sys.modules":
            findings.append(f"cell {cell_name} uses sys.modules")
    return list(dict.fromkeys(findings))


def _is_reflection_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in REFLECTION_CALLS
    )
