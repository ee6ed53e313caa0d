"""Inline the small helpers a kernel calls, for the rewrites that fuse.

Scientific modules wrap NumPy expressions in helpers (``limit(x, floor)`` returning
``np.where(x > floor, x, floor)``, a flux limiter, an equation of state that names an
intermediate or two) and call them on whole arrays. Compiled as separate functions, such helpers
allocate their results and the caller's next expression reads them again; inlined, their
expressions become the caller's, which the devectorizer fuses into the caller's loops.

A helper is inlined when its body (a docstring aside) is assignments to plain names followed by
one ``return`` of an expression, its parameters are plain positional ones, and it holds no
lambda, comprehension, ``:=``, ``yield`` or ``await``. The call keeps Python's semantics: each
argument is evaluated once, before the helper's body runs, and the body's locals get fresh names
that nothing else in the caller reads.

- Where the call's statement runs it unconditionally (the value of an assignment, a ``return``
  or an expression statement, outside a conditional expression, a short-circuit operand, a lambda
  or a comprehension), the arguments that are not names or numbers are bound to fresh names and
  the helper's assignments run, as statements inserted before that statement. That evaluates
  them before the rest of the statement, which changes nothing only when nothing in the
  statement or the helpers changes an array: so this is done only when every call in them is a
  helper's, a pure builtin's, a module function's that writes nothing (no ``out=``, not
  ``np.copyto`` ...), or an array method that returns a new value (``hotpath.vocabulary``).
- Elsewhere only a one-``return`` helper whose arguments are names, numbers, or attributes and
  subscripts of those is inlined, as an expression: evaluating such an argument again reads the
  same value or view, and every parameter must be used, so an ``IndexError`` the call would raise
  still is.

A helper whose global names the caller binds itself is not inlined: its global would read the
caller's local of that name.
"""

from __future__ import annotations

import ast
import copy
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from hotpath import vocabulary
from hotpath.syntax import names_in

#: How many rounds of inlining: a helper's helpers are inlined in the next round.
INLINE_DEPTH = 3

_OPAQUE = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FORBIDDEN = (*_OPAQUE, ast.comprehension, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)


@dataclass(frozen=True)
class HelperBody:
    """What inlining a helper needs: its parameters, its assignments, its returned expression."""

    name: str
    params: tuple[str, ...]
    assigns: tuple[ast.Assign, ...]  # ``local = expression``, in order, before the return
    value: ast.expr
    local_names: frozenset[str]  # the names its assignments bind
    free_names: frozenset[str]  # the globals (and builtins) it reads

    @property
    def one_expression(self) -> bool:
        return not self.assigns


def helper_body(fn: ast.FunctionDef) -> HelperBody | None:
    """``fn`` as a :class:`HelperBody`, or None when inlining it could change what it does."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    args = fn.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults:
        return None
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        return None
    assigns = body[:-1]
    if not all(isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
               for s in assigns):
        return None
    value = body[-1].value
    if any(isinstance(n, _FORBIDDEN) for stmt in body for n in ast.walk(stmt)):
        return None
    params = tuple(a.arg for a in args.args)
    local_names = frozenset(s.targets[0].id for s in assigns)  # type: ignore[attr-defined]
    loaded = {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    return HelperBody(fn.name, params, tuple(assigns), value, local_names,  # type: ignore[arg-type]
                      frozenset(loaded - set(params) - local_names))


def _plain(node: ast.expr) -> bool:
    """A name or a number: evaluating it again cannot raise nor give another value."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
        and isinstance(node.operand, ast.Constant)


def _simple(node: ast.expr) -> bool:
    """A name, a number, or attributes and subscripts of those with such indices and slices."""
    if _plain(node):
        return True
    if isinstance(node, ast.Attribute):
        return _simple(node.value)
    if isinstance(node, ast.Subscript):
        return _simple(node.value) and _simple_index(node.slice)
    return False


def _simple_index(node: ast.expr) -> bool:
    if isinstance(node, ast.Tuple):
        return all(_simple_index(e) for e in node.elts)
    if isinstance(node, ast.Slice):
        return all(p is None or _simple(p) for p in (node.lower, node.upper, node.step))
    return _simple(node)


def _uses_every_parameter(body: HelperBody) -> bool:
    used = names_in(body.value)
    return all(p in used for p in body.params)


def _changes_nothing(tree: ast.AST, helpers: dict[str, HelperBody], bound: set[str]) -> bool:
    """Whether every call in ``tree`` is one that changes no array (see the module docstring)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in helpers and func.id not in bound:
                continue
            if func.id in vocabulary.PURE_BUILTINS and func.id not in bound:
                continue
            return False
        if not isinstance(func, ast.Attribute) or any(k.arg == "out" for k in node.keywords) \
                or func.attr in vocabulary.MUTATING_FUNCTIONS:
            return False
        base = func.value
        if isinstance(base, ast.Name) and base.id not in bound:
            continue  # a module's function (a method changing a global is refused at extraction)
        if func.attr not in vocabulary.ARRAY_METHODS:
            return False
    return True


class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, ast.expr]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in self.names:
            return node
        new = copy.deepcopy(self.names[node.id])
        if isinstance(new, ast.Name):
            new.ctx = node.ctx
        return ast.copy_location(new, node)


class _Inliner(ast.NodeTransformer):
    """One round over one statement's expression: replaces helper calls, collecting the
    statements that must run before it (``prelude``) where the call runs unconditionally."""

    def __init__(self, helpers: dict[str, HelperBody], bound: set[str], fresh: Iterable[str]) -> None:
        self.helpers = helpers
        self.bound = bound
        self.fresh = iter(fresh)
        self.prelude: list[ast.stmt] = []
        self.inlined: list[str] = []
        self.conditional = 0  # > 0 inside what Python may not evaluate, or evaluates apart

    def _apart(self, node: ast.AST) -> ast.AST:
        self.conditional += 1
        try:
            return self.visit(node)
        finally:
            self.conditional -= 1

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        node.test = self.visit(node.test)
        node.body, node.orelse = self._apart(node.body), self._apart(node.orelse)  # type: ignore[assignment]
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        first, *rest = node.values
        node.values = [self.visit(first), *(self._apart(v) for v in rest)]  # type: ignore[list-item]
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node  # its parameters shadow names; nothing in it is inlined

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_Lambda  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.func, ast.Name) or node.func.id not in self.helpers or node.keywords \
                or any(isinstance(a, ast.Starred) for a in node.args):
            return node
        helper = self.helpers[node.func.id]
        if len(node.args) != len(helper.params) or helper.free_names & self.bound:
            return node
        if self.conditional:
            return self._as_expression(node, helper)
        return self._with_prelude(node, helper)

    def _as_expression(self, node: ast.Call, helper: HelperBody) -> ast.AST:
        if not helper.one_expression or not all(_simple(a) for a in node.args) \
                or not _uses_every_parameter(helper):
            return node
        self.inlined.append(helper.name)
        bindings = dict(zip(helper.params, node.args))
        return ast.copy_location(_Rename(bindings).visit(copy.deepcopy(helper.value)), node)

    def _with_prelude(self, node: ast.Call, helper: HelperBody) -> ast.AST:
        names: dict[str, ast.expr] = {}
        for param, arg in zip(helper.params, node.args):
            if _plain(arg) and param not in helper.local_names:
                names[param] = arg
            else:  # evaluated once, here, as the call would
                temp = self._bind(helper, param, arg)
                names[param] = ast.Name(temp, ast.Load())
        for local in sorted(helper.local_names - set(helper.params)):
            names[local] = ast.Name(self._fresh(helper, local), ast.Load())
        for assign in helper.assigns:
            self.prelude.append(_Rename(names).visit(copy.deepcopy(assign)))
        self.inlined.append(helper.name)
        return ast.copy_location(_Rename(names).visit(copy.deepcopy(helper.value)), node)

    def _bind(self, helper: HelperBody, param: str, value: ast.expr) -> str:
        temp = self._fresh(helper, param)
        self.prelude.append(ast.Assign([ast.Name(temp, ast.Store())], value, lineno=0))
        return temp

    def _fresh(self, helper: HelperBody, name: str) -> str:
        temp = f"{helper.name}_{name}_{next(self.fresh)}"
        self.bound.add(temp)
        return temp


def _fresh_suffixes(taken: set[str]) -> Iterable[str]:
    """Suffixes that make a helper's local a name nothing in the caller or its helpers uses."""
    for k in itertools.count():
        suffix = str(k)
        if not any(name.endswith(f"_{suffix}") for name in taken):
            yield suffix


class _Statements:
    """Every statement list of a function, with the preludes its calls need inserted."""

    def __init__(self, helpers: dict[str, HelperBody], bound: set[str], fresh: Iterable[str]) -> None:
        self.helpers, self.bound, self.fresh = helpers, bound, iter(fresh)
        self.inlined: list[str] = []

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            for name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, name, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt) \
                        and not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    setattr(stmt, name, self.block(inner))
            for handler in getattr(stmt, "handlers", ()):
                handler.body = self.block(handler.body)
            out += self.statement(stmt)
        return out

    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        unconditional = isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr))
        inliner = _Inliner(self.helpers, self.bound, self.fresh)
        value = getattr(stmt, "value", None)
        hoistable = unconditional and value is not None \
            and _changes_nothing(value, _pure_helpers(self.helpers, self.bound), self.bound)
        inliner.conditional = 0 if hoistable else 1
        for name in ("value", "test", "iter", "items"):
            child = getattr(stmt, name, None)
            if isinstance(child, ast.expr):
                setattr(stmt, name, inliner.visit(child))
        self.inlined += inliner.inlined
        return [*inliner.prelude, stmt]


def _pure_helpers(helpers: dict[str, HelperBody], bound: set[str]) -> dict[str, HelperBody]:
    """The ``helpers`` whose bodies, and the helpers they call, change no array."""
    pure = dict(helpers)
    while True:
        kept = {name: h for name, h in pure.items()
                if all(_changes_nothing(stmt, pure, bound | set(h.params) | h.local_names)
                       for stmt in (*h.assigns, h.value))}
        if len(kept) == len(pure):
            return kept
        pure = kept


def inline_helpers(fn: ast.FunctionDef, helpers: Iterable[ast.FunctionDef]) -> tuple[ast.FunctionDef, tuple[str, ...]]:
    """``fn`` (a copy) with its calls of the small ``helpers`` inlined (see the module's
    docstring), and the names of the helpers inlined, once per call site."""
    helpers = list(helpers)
    table = {h.name: body for h in helpers if (body := helper_body(h)) is not None}
    tree = copy.deepcopy(fn)
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    taken = {n.id for t in (fn, *helpers) for n in ast.walk(t) if isinstance(n, ast.Name)} | bound
    statements = _Statements(table, bound, _fresh_suffixes(taken))
    done: list[str] = []
    for _ in range(INLINE_DEPTH):
        statements.inlined = []
        tree.body = statements.block(tree.body)
        if not statements.inlined:
            break
        done += statements.inlined
    ast.fix_missing_locations(tree)
    return tree, tuple(done)


__all__ = ["INLINE_DEPTH", "HelperBody", "helper_body", "inline_helpers"]
