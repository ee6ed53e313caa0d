"""A loop nest over array elements, translated into one ``cupy.ElementwiseKernel``.

What qualifies: a top-level ``for ... in range(...)`` loop that the parallel analysis
(``hotpath.rewriter.parallel``) clears of loop-carried dependencies, with no reduction into a
scalar (that would need a reduction kernel). Perfectly nested inner loops whose iterations are
independent too (every write ``x[i, j]`` indexed by the loop variables in order, every read of a
written array at that same index) are mapped onto threads as well: one thread per element of
the iteration space. Other inner loops run sequentially inside the thread.

The kernel body is C++ translated from the loop body by ``hotpath.kernels.cupy_cxx``, which
keeps Python's semantics where C's differ and declines anything else with the construct named. Statements before and after the nest (shape unpacking, allocations, the
return) stay Python and run with NumPy bound to CuPy; the generated wrapper launches the kernel
in place of the nest.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

from hotpath.errors import NotRewritable
from hotpath.kernels.cupy_cxx import CTYPES, PREAMBLE, Translator, dtype_kind, join, scalar_kind
from hotpath.rewriter import parallel
from hotpath.signature import Signature
from hotpath.syntax import names_in, parse_statements

#: Loops of a perfect nest mapped onto threads at most (i, j, k); deeper ones run in the thread.
MAX_MAPPED_DIMS = 3

__all__ = ["ElementwisePlan", "PREAMBLE", "plan"]  # PREAMBLE: generated modules import it from here


@dataclass(frozen=True)
class ElementwisePlan:
    """Everything the generated module needs to build and launch the kernel."""

    kernel_name: str
    in_params: str  # ElementwiseKernel's declarations, e.g. "raw T0 p_u, T1 p_n"
    out_params: str
    operation: str  # the C++ body run once per thread (element ``i`` of the iteration space)
    device_function: str  # Python source: the function with the nest replaced by a launch
    mapped: tuple[str, ...]  # loop variables mapped onto threads, outermost first
    notes: tuple[str, ...]


def _assigned_names(stmts: list[ast.stmt]) -> list[str]:
    names: list[str] = []
    for stmt in stmts:
        for node in ast.walk(stmt):
            target = None
            if isinstance(node, (ast.Assign,)):
                for t in node.targets:
                    if isinstance(t, ast.Name) and t.id not in names:
                        names.append(t.id)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                target = node.target.id
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
                target = node.target.id
            if target is not None and target not in names:
                names.append(target)
    return names


def _independent(body: list[ast.stmt], loop_vars: list[str]) -> bool:
    """Every write indexed by ``loop_vars`` first, in order; written arrays read only there."""
    stores: dict[str, str] = {}
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                if not isinstance(node.value, ast.Name):
                    return False
                items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                lead = items[:len(loop_vars)]
                if len(lead) < len(loop_vars) or any(
                        not (isinstance(e, ast.Name) and e.id == v) for e, v in zip(lead, loop_vars)):
                    return False
                index = ast.unparse(node.slice)
                if stores.setdefault(node.value.id, index) != index:
                    return False
    for stmt in body:
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                    and isinstance(node.value, ast.Name) and node.value.id in stores
                    and ast.unparse(node.slice) != stores[node.value.id]):
                return False
    return True


def plan(fn: ast.FunctionDef, signature: Signature, local_arrays: dict[str, str] | None = None) -> ElementwisePlan:
    """The ElementwiseKernel for ``fn``'s parallel loop nest; ``NotRewritable`` says why not."""
    verdicts = {id(loop): verdict for loop, verdict in parallel.analyse(fn)}
    nests = [(k, s) for k, s in enumerate(fn.body) if isinstance(s, ast.For) and id(s) in verdicts]
    if not nests:
        raise NotRewritable("no top-level `for ... in range(...)` loop nest to map onto GPU threads")
    position, outer = nests[0]
    verdict = verdicts[id(outer)]
    if not verdict.parallel:
        raise NotRewritable(f"{verdict.loop}: {verdict.reason}")
    others = [s for k, s in enumerate(fn.body) if k != position]
    if any(isinstance(n, (ast.For, ast.While)) for s in others for n in ast.walk(s)):
        raise NotRewritable("loops outside the parallel nest would run element by element on the device")

    # The nest's own scalars must be private: an accumulator needs a reduction kernel instead.
    assigned = _assigned_names(outer.body)
    for name in assigned:
        if not parallel.written_before_read(name, outer.body):
            raise NotRewritable(f"{name!r} accumulates across iterations (a reduction); "
                                "an elementwise kernel cannot express it")

    loops = [outer]
    while len(loops) < MAX_MAPPED_DIMS:
        body = loops[-1].body
        if len(body) != 1 or not parallel.is_range_loop(body[0]):
            break
        inner = body[0]
        assert isinstance(inner, ast.For)
        bound_names = names_in(inner.iter)
        mapped_vars = [lp.target.id for lp in loops]  # type: ignore[attr-defined]
        if bound_names & set(mapped_vars):
            break  # a triangular nest: its inner trip count differs per thread
        if not _independent(inner.body, mapped_vars + [inner.target.id]):  # type: ignore[attr-defined]
            break
        loops.append(inner)
    mapped = [lp.target.id for lp in loops]  # type: ignore[attr-defined]
    body = loops[-1].body

    # Kernel parameters: arrays it indexes and scalars it reads, typed from the signature.
    params = dict(zip([a.arg for a in fn.args.args], signature.args))
    local_arrays = local_arrays or {}
    indexed = {n.value.id for s in body for n in ast.walk(s)
               if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}
    arrays: dict[str, str] = {}
    for name in sorted(indexed):
        spec = params.get(name)
        if spec is not None and spec.kind != "array":
            raise NotRewritable(f"{name!r} is indexed but is a {spec}, not an array")
        arrays[name] = dtype_kind(spec.dtype if spec is not None else local_arrays.get(name))
    scalars = {name: scalar_kind(spec) for name, spec in params.items() if spec.kind == "object"}

    translator = Translator(arrays, scalars, mapped)
    private = [n for n in _assigned_names(body) if n not in mapped]
    for name in private:
        translator.locals[name] = "b"
    for _ in range(4):  # types of temporaries: widen until stable (the lattice is tiny)
        changed = False
        for stmt in body:
            for node in ast.walk(stmt):
                pairs: list[tuple[str, ast.expr]] = []
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                    pairs = [(node.targets[0].id, node.value)]
                elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                    pairs = [(node.target.id, ast.BinOp(node.target, node.op, node.value))]
                elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
                    translator.locals[node.target.id] = "i"
                for name, value in pairs:
                    if name in translator.locals and name not in mapped:
                        new = join(translator.locals[name], translator.kind(value))
                        if new == "f8w":
                            new = "f8"
                        if new != translator.locals[name]:
                            translator.locals[name], changed = new, True
        if not changed:
            break

    statements = translator.block(body, "")
    written = {n.value.id for s in body for n in ast.walk(s)
               if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name)}

    # The flat thread index ``i`` -> the mapped loop variables, innermost fastest.
    operation = ["ptrdiff_t _rest = i;"]
    for k in reversed(range(len(mapped))):
        if k:
            operation.append(f"const ptrdiff_t v_{mapped[k]} = p__start{k} + (_rest % p__count{k}) * p__step{k};")
            operation.append(f"_rest /= p__count{k};")
        else:
            operation.append(f"const ptrdiff_t v_{mapped[k]} = p__start0 + _rest * p__step0;")
    for name in private:
        operation.append(f"{CTYPES[translator.locals[name]]} v_{name} = 0;")
    operation += statements

    type_index = iter(range(1000))
    in_decl: list[str] = []
    out_decl: list[str] = []
    call_in: list[str] = []
    call_out: list[str] = []
    for name in sorted(arrays):
        declaration = f"raw T{next(type_index)} p_{name}"
        (out_decl if name in written else in_decl).append(declaration)
        (call_out if name in written else call_in).append(name)
    for name in sorted(translator.params_used - set(arrays)):
        in_decl.append(f"T{next(type_index)} p_{name}")
        call_in.append(name)
    for (array, axis), param in sorted(translator.shapes.items()):
        in_decl.append(f"T{next(type_index)} p_{param}")
        call_in.append(f"{array}.shape[{axis}]")
    for k in range(len(mapped)):
        in_decl += [f"int64 p__start{k}", f"int64 p__step{k}", f"int64 p__count{k}"]
        call_in += [f"_hotpath_r{k}.start", f"_hotpath_r{k}.step", f"len(_hotpath_r{k})"]
    if not out_decl:
        raise NotRewritable("the loop nest writes no array; there is nothing for threads to produce")

    kernel_name = f"hotpath_{fn.name}"
    launch: list[ast.stmt] = []
    for k, loop in enumerate(loops):
        launch.append(parse_statements(f"_hotpath_r{k} = {ast.unparse(loop.iter)}")[0])
    count = " * ".join(f"len(_hotpath_r{k})" for k in range(len(loops)))
    launch.append(parse_statements(
        f"if {count}:\n    _hotpath_kernel({', '.join(call_in + call_out)}, size={count})")[0])
    device_fn = copy.deepcopy(fn)
    device_fn.body = fn.body[:position] + launch + fn.body[position + 1:]
    device_fn.name = f"{fn.name}__device"
    notes = (f"GPU threads over {', '.join(mapped)} ({verdict.loop}: {verdict.reason})",)
    return ElementwisePlan(kernel_name, ", ".join(in_decl), ", ".join(out_decl),
                           "\n".join(operation), ast.unparse(ast.fix_missing_locations(device_fn)),
                           tuple(mapped), notes)
