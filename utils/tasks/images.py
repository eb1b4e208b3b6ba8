"""Turn an arbitrary image file into a 28x28 digit that looks like MNIST: white on black, centred by mass."""
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from utils.core.errors import UserError


# A photo of a digit is a few MB at most; anything larger is not what --predict is for.
MAX_IMAGE_BYTES = 50 * 1024 * 1024


def check_image_file(path) -> None:
    """Only regular files of a sane size: a FIFO or device named x.png would block the read forever."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"Image not found: {path}")
    if not path.is_file():
        raise UserError(f"{path} is not a regular file (a folder, FIFO or device); pass image files.")
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise UserError(f"{path} is {size / 2**20:.0f} MiB; images up to {MAX_IMAGE_BYTES // 2**20} MiB are read.")


def image_to_mnist(path) -> np.ndarray:
    """float32 (28, 28) in [0, 1]: grayscale, ink made white on black, cropped, fitted into 20x20, centred in 28x28."""
    check_image_file(path)
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; both are refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened).convert("L")
    except FileNotFoundError:
        raise UserError(f"Image not found: {path}")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UserError(f"Refusing image {path}: {' '.join(str(error).split())[:200]}")
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserError(f"Cannot read image {path}: {' '.join(str(error).split())[:200]}")
    pixels = np.asarray(image, dtype=np.float32)
    # MNIST digits are light ink on a dark background; a light border means the image is the other way round.
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 127:
        pixels = 255.0 - pixels
    pixels -= np.median(border if border.mean() <= 127 else 255.0 - border)
    pixels = np.clip(pixels, 0, None)
    ink = pixels > 0.2 * pixels.max() if pixels.max() > 0 else np.zeros_like(pixels, dtype=bool)
    if not ink.any():
        return np.zeros((28, 28), dtype=np.float32)
    rows, columns = np.where(ink)
    cropped = pixels[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    height, width = cropped.shape
    scale = 20.0 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    digit = np.asarray(Image.fromarray(cropped / cropped.max() * 255.0).convert("L").resize(size, Image.LANCZOS), dtype=np.float32)
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - size[1]) // 2, (28 - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = digit
    # Shift so the centre of mass sits at the centre, as in MNIST's own preparation.
    total = canvas.sum()
    if total > 0:
        row_centre = (canvas.sum(axis=1) * np.arange(28)).sum() / total
        column_centre = (canvas.sum(axis=0) * np.arange(28)).sum() / total
        canvas = np.roll(canvas, (int(round(13.5 - row_centre)), int(round(13.5 - column_centre))), axis=(0, 1))
    return canvas / 255.0
