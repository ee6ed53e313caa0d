"""A parameters module, as scientists keep one next to their kernels: the adversarial suite's
hidden-state kernels read ``GAIN`` and ``WEIGHTS`` through it, and change them between calls."""

import numpy as np

GAIN = 2.0
WEIGHTS = np.array([0.25, 0.5, 0.25])
