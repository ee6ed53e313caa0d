"""Devectorizing rewrite: NumPy expression chains become loop nests without temporaries.

``devectorize(fn_ast, arg_specs, modules)`` returns a ``Rewrite`` whose ``tree`` is the
function with every statement it understands replaced by explicit loops (see ``transform``
for which statements, ``substitute`` for cheap locals read by several statements,
``build`` for the expression rules, ``emit`` for the loops, ``oracle``
for how dtypes follow NumPy exactly). The loops are plain Python over ``range``, so any
loop compiler can take them; the Numba variants pass ``allocator`` so that the arrays the loops
fill are allocated as NumPy allocates them (``hugepages``), and pass ``pairwise`` so that whole
and row-wise float sums are added in NumPy's pairwise order (``pairwise``), and pass ``vmath`` so
that float ``exp`` and ``log`` are computed in a form LLVM vectorizes, as NumPy's are; float sums
the loops add in another order are listed in ``Rewrite.reassociations``. Pythran needs no such rewrite: it
fuses NumPy expressions itself (``hotpath.kernels.pythran_backend``).
"""

from hotpath.rewriter.devectorize.transform import Rewrite, devectorize

__all__ = ["Rewrite", "devectorize"]
