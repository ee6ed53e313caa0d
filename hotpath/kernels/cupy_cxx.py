"""Python expressions and statements of a loop body, translated into CUDA C++.

Python's semantics are kept where C's differ: true division of integers, floor division and
modulo rounding towards negative infinity, negative indices counting from the end of an axis,
``min``/``max`` that keep the first argument unless the second compares strictly. Temporaries are
typed by a small lattice (bool < int < float32 < float64) from the argument signature, following
NumPy 2's promotion (a float32 value with a Python float stays float32). Anything else raises
``NotRewritable`` naming the construct.
"""

from __future__ import annotations

import ast
import math

from hotpath.errors import NotRewritable
from hotpath.rewriter import parallel
from hotpath.signature import ArgSpec

#: Device helpers every kernel gets; C++17 (NVRTC's default dialect since CUDA 11).
PREAMBLE = r"""
template <typename T> struct _hp_int { static const bool value = false; };
template <> struct _hp_int<bool> { static const bool value = true; };
template <> struct _hp_int<signed char> { static const bool value = true; };
template <> struct _hp_int<unsigned char> { static const bool value = true; };
template <> struct _hp_int<short> { static const bool value = true; };
template <> struct _hp_int<unsigned short> { static const bool value = true; };
template <> struct _hp_int<int> { static const bool value = true; };
template <> struct _hp_int<unsigned int> { static const bool value = true; };
template <> struct _hp_int<long> { static const bool value = true; };
template <> struct _hp_int<unsigned long> { static const bool value = true; };
template <> struct _hp_int<long long> { static const bool value = true; };
template <> struct _hp_int<unsigned long long> { static const bool value = true; };

// x[i, j]: Python's negative indices count from the end of the axis.
template <typename A, typename... I>
__device__ __forceinline__ auto& _hp_at(A& a, I... idx) {
    ptrdiff_t ix[sizeof...(I)] = {static_cast<ptrdiff_t>(idx)...};
    for (int d = 0; d < (int)sizeof...(I); ++d) { if (ix[d] < 0) ix[d] += a.shape()[d]; }
    return a[ix];
}
// a / b: true division, also for two integers.
template <typename A, typename B>
__device__ __forceinline__ auto _hp_truediv(A a, B b) {
    if constexpr (_hp_int<A>::value && _hp_int<B>::value) { return (double)a / (double)b; }
    else { return a / b; }
}
// a // b and a % b round towards negative infinity in Python, towards zero in C.
template <typename A, typename B>
__device__ __forceinline__ auto _hp_floordiv(A a, B b) {
    if constexpr (_hp_int<A>::value && _hp_int<B>::value) {
        auto q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0))) { q -= 1; }
        return q;
    } else { return floor(a / b); }
}
template <typename A, typename B>
__device__ __forceinline__ auto _hp_mod(A a, B b) {
    if constexpr (_hp_int<A>::value && _hp_int<B>::value) {
        auto r = a % b;
        if (r != 0 && ((r < 0) != (b < 0))) { r += b; }
        return r;
    } else {
        auto r = fmod(a, b);
        if (r != 0 && ((r < 0) != (b < 0))) { r += b; }
        return r;
    }
}
template <typename A> __device__ __forceinline__ A _hp_sq(A a) { return a * a; }
template <typename A> __device__ __forceinline__ A _hp_ipow(A a, int n) {
    A r = 1;
    for (int k = 0; k < n; ++k) { r *= a; }
    return r;
}
// Python's min/max keep the first argument unless the second compares strictly less/greater.
template <typename A, typename B> __device__ __forceinline__ auto _hp_min(A a, B b) { return (b < a) ? b : a; }
template <typename A, typename B> __device__ __forceinline__ auto _hp_max(A a, B b) { return (b > a) ? b : a; }
template <typename A> __device__ __forceinline__ A _hp_abs(A a) {
    if constexpr (_hp_int<A>::value) { return a < 0 ? -a : a; } else { return fabs(a); }
}
""".strip()

_FUNCTIONS = {  # math./np. name -> C++ function (CUDA's math library overloads float/double)
    "sqrt": "sqrt", "exp": "exp", "log": "log", "log10": "log10", "log2": "log2", "log1p": "log1p",
    "expm1": "expm1", "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos",
    "atan": "atan", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "atan2": "atan2",
    "arctan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "floor": "floor",
    "ceil": "ceil", "trunc": "trunc", "fabs": "fabs", "hypot": "hypot", "copysign": "copysign",
    "fmod": "fmod", "isnan": "isnan", "isinf": "isinf", "isfinite": "isfinite", "abs": "_hp_abs",
    "absolute": "_hp_abs", "pow": "pow", "power": "pow", "minimum": "_hp_min", "maximum": "_hp_max",
}
_BOOL_FUNCTIONS = {"isnan", "isinf", "isfinite"}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
_MATH_MODULES = {"math", "numpy", "np"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
CTYPES = {"b": "bool", "i": "long long", "f4": "float", "f8": "double", "f8w": "double"}


def join(*kinds: str) -> str:
    """The kind of an operation on values of ``kinds`` ("b", "i", "f4", "f8", "f8w" = Python float)."""
    present = set(kinds)
    if "f8" in present:
        return "f8"
    if "f4" in present:
        return "f4"  # float32 with Python scalars stays float32 (NumPy 2's promotion)
    if "f8w" in present:
        return "f8"
    if "i" in present:
        return "i"
    return "b" if present else "f8"


def dtype_kind(dtype: str | None) -> str:
    if dtype is None:
        return "f8"
    if dtype == "bool":
        return "b"
    if dtype.startswith(("int", "uint")):
        return "i"
    if dtype == "float32":
        return "f4"
    if dtype in ("float64", "float16"):
        return "f8"
    raise NotRewritable(f"arrays of {dtype} are not translated into a CUDA kernel")


def scalar_kind(spec: ArgSpec) -> str:
    names = {"float": "f8", "int": "i", "bool": "b", "numpy.float64": "f8", "numpy.float32": "f4",
             "numpy.int64": "i", "numpy.int32": "i", "numpy.bool": "b"}
    return names.get(spec.type_name, "f8")


class Translator:
    """Python expressions and statements of one loop body -> C++."""

    def __init__(self, arrays: dict[str, str], scalars: dict[str, str], mapped: list[str]) -> None:
        self.arrays = arrays  # name -> element kind, for every array the body indexes
        self.scalars = scalars  # name -> kind, for every scalar kernel parameter
        self.locals: dict[str, str] = {v: "i" for v in mapped}  # name -> kind
        self.mapped = set(mapped)
        self.shapes: dict[tuple[str, int], str] = {}  # (array, axis) -> hoisted parameter name
        self.params_used: set[str] = set()

    # -- types -------------------------------------------------------------------------------
    def kind(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return "b"
            return "i" if isinstance(node.value, int) else "f8w"
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return self.locals[node.id]
            return self.scalars.get(node.id, "f8")
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
                return "i"
            return self.arrays.get(getattr(node.value, "id", ""), "f8")
        if isinstance(node, ast.Attribute):
            return "f8w"
        if isinstance(node, ast.BinOp):
            left, right = self.kind(node.left), self.kind(node.right)
            if isinstance(node.op, ast.Div):
                return join(left, right, "f8w")
            if isinstance(node.op, ast.Pow) and not (left in "bi" and right in "bi"):
                return join(left, right, "f8w")
            joined = join(left, right)
            return "i" if joined == "b" else joined
        if isinstance(node, ast.UnaryOp):
            return "b" if isinstance(node.op, ast.Not) else self.kind(node.operand)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            return "b"
        if isinstance(node, ast.IfExp):
            return join(self.kind(node.body), self.kind(node.orelse))
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in ("int",):
                return "i"
            if name in ("float",):
                return "f8"
            if name in ("bool",) or name in _BOOL_FUNCTIONS:
                return "b"
            if name in ("floor", "ceil", "trunc") and _module_of(node) == "math":
                return "i"  # math.floor returns an int in Python
            arg_kinds = [self.kind(a) for a in node.args]
            if name in ("abs", "absolute", "min", "max", "minimum", "maximum"):
                return join(*arg_kinds)
            return join(*arg_kinds, "f8w")
        return "f8"

    # -- expressions -------------------------------------------------------------------------
    def expr(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int):
                if not -2**63 <= value < 2**63:
                    raise NotRewritable(f"the integer {value} does not fit in 64 bits")
                return f"{value}LL"
            if isinstance(value, float):
                if not math.isfinite(value):
                    raise NotRewritable("non-finite float constants are not translated")
                return repr(value)
            raise NotRewritable(f"the constant {value!r} has no C++ equivalent here")
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return f"v_{node.id}"
            self.params_used.add(node.id)
            return f"p_{node.id}"
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Attribute):
            if (isinstance(node.value, ast.Name) and node.value.id in _MATH_MODULES
                    and node.attr in _CONSTANTS):
                return repr(_CONSTANTS[node.attr])
            raise NotRewritable(f"`{ast.unparse(node)}` is not translated into a CUDA kernel")
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            if type(node.op) in _BINOPS:
                return f"({left} {_BINOPS[type(node.op)]} {right})"
            if isinstance(node.op, ast.Div):
                return f"_hp_truediv({left}, {right})"
            if isinstance(node.op, ast.FloorDiv):
                return f"_hp_floordiv({left}, {right})"
            if isinstance(node.op, ast.Mod):
                return f"_hp_mod({left}, {right})"
            if isinstance(node.op, ast.Pow):
                exponent = node.right
                if isinstance(exponent, ast.Constant) and type(exponent.value) is int and 0 <= exponent.value <= 8:
                    return f"_hp_sq({left})" if exponent.value == 2 else f"_hp_ipow({left}, {exponent.value})"
                if self.kind(node.left) in "bi" and self.kind(node.right) in "bi":
                    raise NotRewritable("integer ** integer with a variable exponent (Python's result "
                                        "type depends on its sign)")
                return f"pow({left}, {right})"
            raise NotRewritable(f"the operator in `{ast.unparse(node)}` is not translated")
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand)
            if isinstance(node.op, ast.USub):
                return f"(-{operand})"
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.Not):
                return f"(!{operand})"
            raise NotRewritable(f"`{ast.unparse(node)}` (bitwise inversion) is not translated")
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + op.join(self.expr(v) for v in node.values) + ")"
        if isinstance(node, ast.Compare):
            parts, left = [], node.left  # type: ignore[assignment]
            for op, right in zip(node.ops, node.comparators):  # type: ignore[assignment]
                if type(op) not in _CMPOPS:  # type: ignore[comparison-overlap]
                    raise NotRewritable(f"the comparison in `{ast.unparse(node)}` is not translated")
                parts.append(f"({self.expr(left)} {_CMPOPS[type(op)]} {self.expr(right)})")  # type: ignore[arg-type, index]
                left = right
            return "(" + " && ".join(parts) + ")"
        if isinstance(node, ast.IfExp):
            return f"({self.expr(node.test)} ? {self.expr(node.body)} : {self.expr(node.orelse)})"
        if isinstance(node, ast.Call):
            return self.call(node)
        raise NotRewritable(f"`{ast.unparse(node)}` is not translated into a CUDA kernel")

    def subscript(self, node: ast.Subscript) -> str:
        base = node.value
        if isinstance(base, ast.Attribute) and base.attr == "shape" and isinstance(base.value, ast.Name):
            axis = node.slice
            if not (isinstance(axis, ast.Constant) and type(axis.value) is int and axis.value >= 0):
                raise NotRewritable(f"`{ast.unparse(node)}`: only constant axes of .shape are translated")
            key = (base.value.id, axis.value)
            self.shapes.setdefault(key, f"shape_{base.value.id}_{axis.value}")
            return f"p_{self.shapes[key]}"
        if not isinstance(base, ast.Name) or base.id not in self.arrays:
            raise NotRewritable(f"`{ast.unparse(node)}` indexes something that is not an array argument")
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if any(isinstance(item, ast.Slice) for item in items):
            raise NotRewritable(f"`{ast.unparse(node)}` takes a slice; only element access is translated")
        self.params_used.add(base.id)
        return f"_hp_at(p_{base.id}, {', '.join(self.expr(i) for i in items)})"

    def call(self, node: ast.Call) -> str:
        name = _call_name(node)
        if node.keywords:
            raise NotRewritable(f"`{ast.unparse(node)}`: keyword arguments are not translated")
        args = [self.expr(a) for a in node.args]
        module = _module_of(node)
        if module is None and name in ("min", "max") and len(args) == 2:
            return f"_hp_{name}({args[0]}, {args[1]})"
        if module is None and name == "abs" and len(args) == 1:
            return f"_hp_abs({args[0]})"
        if module is None and name in ("float", "int", "bool") and len(args) == 1:
            ctype = {"float": "double", "int": "long long", "bool": "bool"}[name]
            return f"(({ctype}){args[0]})"
        if module in _MATH_MODULES and name in _FUNCTIONS:
            if name == "log" and len(args) != 1:
                raise NotRewritable("math.log with a base is not translated")
            return f"{_FUNCTIONS[name]}({', '.join(args)})"
        raise NotRewritable(f"the call `{ast.unparse(node)}` is not translated into a CUDA kernel")

    # -- statements --------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt], indent: str) -> list[str]:
        lines: list[str] = []
        for stmt in stmts:
            lines += self.stmt(stmt, indent)
        return lines

    def stmt(self, node: ast.stmt, indent: str) -> list[str]:
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1 or isinstance(node.targets[0], (ast.Tuple, ast.List)):
                raise NotRewritable(f"`{ast.unparse(node)}`: only single assignments are translated")
            return [f"{indent}{self.target(node.targets[0])} = {self.expr(node.value)};"]
        if isinstance(node, ast.AugAssign):
            target = self.target(node.target)
            value = self.expr(node.value)
            if type(node.op) in _BINOPS:
                return [f"{indent}{target} {_BINOPS[type(node.op)]}= {value};"]
            helper = {ast.Div: "_hp_truediv", ast.FloorDiv: "_hp_floordiv", ast.Mod: "_hp_mod"}.get(type(node.op))
            if helper is None:
                raise NotRewritable(f"`{ast.unparse(node)}` is not translated")
            return [f"{indent}{target} = {helper}({target}, {value});"]
        if isinstance(node, ast.If):
            lines = [f"{indent}if ({self.expr(node.test)}) {{"] + self.block(node.body, indent + "    ")
            if node.orelse:
                lines += [f"{indent}}} else {{"] + self.block(node.orelse, indent + "    ")
            return lines + [f"{indent}}}"]
        if isinstance(node, ast.For):
            return self.sequential_loop(node, indent)
        if isinstance(node, ast.Pass):
            return []
        if isinstance(node, ast.Continue):
            return [f"{indent}continue;"]
        if isinstance(node, ast.Break):
            return [f"{indent}break;"]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return []  # a docstring or a bare constant does nothing
        raise NotRewritable(f"`{ast.unparse(node).splitlines()[0]}` is not translated into a CUDA kernel")

    def target(self, node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            if node.id not in self.locals:
                raise NotRewritable(f"assigns {node.id!r}, which is not private to one iteration")
            return f"v_{node.id}"
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        raise NotRewritable(f"cannot assign to `{ast.unparse(node)}` in a CUDA kernel")

    def sequential_loop(self, node: ast.For, indent: str) -> list[str]:
        if not parallel.is_range_loop(node):
            raise NotRewritable(f"`for {ast.unparse(node.target)} in {ast.unparse(node.iter)}`: only "
                                "range loops are translated")
        args = node.iter.args  # type: ignore[attr-defined]
        if len(args) == 3 and not (isinstance(args[2], ast.Constant) and type(args[2].value) is int
                                   and args[2].value > 0):
            raise NotRewritable("an inner range with a step that is not a positive constant")
        start = self.expr(args[0]) if len(args) >= 2 else "0LL"
        stop = self.expr(args[1] if len(args) >= 2 else args[0])
        step = self.expr(args[2]) if len(args) == 3 else "1LL"
        var = f"v_{node.target.id}"  # type: ignore[attr-defined]
        head = f"{indent}for ({var} = {start}; {var} < {stop}; {var} += {step}) {{"
        return [head] + self.block(node.body, indent + "    ") + [f"{indent}}}"]


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _module_of(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id
    return None
