"""Run a diffusion experiment and write its summary: ``python -m heatpkg.driver --n 64 --steps 50``."""

import argparse
import json
import sys

import numpy as np

from heatpkg import stats, stencil


def simulate(n, steps, alpha=0.2):
    """The field after ``steps`` diffusion steps, and the heat flux after each."""
    u = stencil.initial_state(n)
    out = u.copy()
    fluxes = []
    for _ in range(steps):
        stencil.diffuse(u, out, alpha)
        u, out = out, u
        fluxes.append(stencil.heat_flux(u, 1.0 / n))
    return u, fluxes


def report(u, fluxes, bins=8):
    """What the experiment writes out."""
    return {"summary": stats.summary(u), "hot_fraction": stats.hot_fraction(u, 0.5),
            "profile": [round(float(v), 6) for v in stats.radial_profile(u, bins)],
            "final_flux": round(fluxes[-1], 6) if fluxes else None,
            "flux_memory": [round(float(v), 6) for v in stats.autocorrelation(np.asarray(fluxes), min(5, len(fluxes) - 1))]
            if len(fluxes) > 1 else []}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("-o", "--output", help="write the JSON report here (default: standard output)")
    options = parser.parse_args(argv)
    u, fluxes = simulate(options.n, options.steps)
    text = json.dumps(report(u, fluxes), indent=1)
    if options.output:
        with open(options.output, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
