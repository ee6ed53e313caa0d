"""heatpkg: a small heat-diffusion study, written the way a research group writes one.

``stencil`` holds the loop kernels, ``stats`` the NumPy analysis, ``driver`` the run that ties
them together (``python -m heatpkg.driver --steps 50``). It is the example of docs/codebase.md:
hotpath tunes it from its own pytest-benchmark suite and exports the winners as a patch.
"""
