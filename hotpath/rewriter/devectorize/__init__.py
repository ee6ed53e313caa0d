"""Devectorizing rewrite: NumPy expression chains become loop nests without temporaries.

``devectorize(fn_ast, arg_specs, modules)`` returns a ``Rewrite`` whose ``tree`` is the
function with every statement it understands replaced by explicit loops (see ``transform``
for which statements, ``build`` for the expression rules, ``emit`` for the loops, ``oracle``
for how dtypes follow NumPy exactly). The loops are plain Python over ``range``, so any
loop compiler (Numba today; Cython or Pythran later) can take them.
"""

from hotpath.rewriter.devectorize.transform import Rewrite, devectorize

__all__ = ["Rewrite", "devectorize"]
