"""What the analyses know about Python and NumPy names: one shared vocabulary.

Each analysis (parallel loops, array style, fusion) asks the same two questions of a call: does
it have side effects, and does it write to what it is called on. When the answers were kept
per analysis they drifted apart; here, merged the safe way: a builtin is pure only if every
analysis agreed it was (``print`` is not), a method mutates if any analysis said it does.
"""

from __future__ import annotations

#: Builtins without side effects on their arguments or the world.
PURE_BUILTINS = frozenset({
    "abs", "min", "max", "len", "range", "int", "float", "bool", "complex", "round", "pow",
    "divmod", "sum", "enumerate", "zip",
})

#: Methods that change the array, list, dict or set they are called on.
MUTATING_METHODS = frozenset({
    "fill", "sort", "resize", "put", "itemset", "partition", "setfield", "byteswap", "setflags",
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem",
    "add", "discard",
})

#: NumPy functions that write into an array they are given (besides any ``out=``).
MUTATING_FUNCTIONS = frozenset({
    "copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis", "shuffle", "at",
})

#: NumPy array methods that return a new value and leave the array as it was.
ARRAY_METHODS = frozenset({
    "sum", "mean", "max", "min", "prod", "std", "var", "any", "all", "copy",
    "astype", "reshape", "ravel", "transpose", "clip", "cumsum", "dot", "round",
})
