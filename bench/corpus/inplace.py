"""Kernels that update an array argument in place and return None."""


def cumsum_inplace_loops(a):
    """Running total a[i] <- a[0] + ... + a[i], written over the input (carried dependency)."""
    for i in range(1, a.shape[0]):
        a[i] += a[i - 1]


def calibrate_image_inplace_loops(image, dark, flat):
    """Dark-subtract and flat-field a float32 detector frame in place, clamping negatives to 0."""
    ny, nx = image.shape
    for i in range(ny):
        for j in range(nx):
            value = (image[i, j] - dark[i, j]) / flat[i, j]
            if value < 0:
                value = 0.0
            image[i, j] = value
