"""Read any chest X-ray file (PNG, JPEG, DICOM) into one array type.

Everything downstream (preprocessing, models, saliency, retrieval) sees only ``float32 H x W in [0, 1]``, so the
quirks of the formats are settled here once: NIH ships some radiographs as RGBA, 16-bit PNGs must not be divided by
255, DICOM needs its modality and VOI LUTs and MONOCHROME1 is stored inverted (bone dark). Files and uploads share
one implementation (:func:`read_image_bytes`) so the service accepts exactly what training accepted.

Every failure a user can cause raises :class:`~chestxai.errors.ImageReadError` with a one-line message naming the
file and the problem; the size limits are checked from the header, before any pixel is decoded, so a hostile
upload cannot exhaust memory.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from chestxai.errors import ImageReadError

DEFAULT_MAX_PIXELS = 40_000_000
MIN_SIDE = 16
DICOM_SUFFIXES = (".dcm", ".dicom")
HEADER_TAGS = ("Modality", "BodyPartExamined", "ViewPosition", "PatientAge")  # what the scope check reads
# A colour file's facts carry COLOUR_SHARE: the share of its pixels whose chroma (largest minus smallest of R, G, B)
# is at least COLOUR_CHROMA of the full range. A grey radiograph stored as RGB (or as JPEG, whose grey content
# decodes to channel differences of a level or two) has none; the scope check refuses an image that has many.
COLOUR_SHARE = "colour_share"
COLOUR_CHROMA = 0.1
_COLOUR_MODES = ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "P", "PA")
_COLOUR_PHOTOMETRIC = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")
_COLOUR_MAX_PIXELS = 4_000_000  # larger colour images are measured on a box-reduced copy
_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# What pydicom raises on malformed or undecodable pixel data (bad lengths, missing tags, no decoder plugin).
_DICOM_DECODE_ERRORS = (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError, TypeError, EOFError)


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode the image file ``path`` to a grayscale ``float32`` array ``H x W`` in ``[0, 1]``."""
    return read_image_bytes(read_file(path), str(path), max_pixels)


def read_image_and_header(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, dict[str, str]]:
    """:func:`read_image` and :func:`read_header` of one file, read from disk once."""
    return read_image_and_header_bytes(read_file(path), str(path), max_pixels)


def read_image_and_header_bytes(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS
                                ) -> tuple[np.ndarray, dict[str, str]]:
    """:func:`read_image_bytes` and :func:`read_header` of an in-memory file; a PNG/JPEG is decoded once (its colour
    share measured on the pixels the grey image is made from)."""
    if not data or is_dicom(data, name):
        return read_image_bytes(data, name, max_pixels), read_header(data, name)
    facts: dict[str, str] = {}
    return _read_image_bytes(data, name, max_pixels, facts), facts


def read_file(path: str | Path) -> bytes:
    """The bytes of an image file; a missing or unreadable file is an ImageReadError naming it."""
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"{p}: file not found")
    if not p.is_file():
        raise ImageReadError(f"{p}: not a file")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{p}: cannot be read ({exc.strerror or exc})") from exc


def read_header(data: bytes, name: str = "") -> dict[str, str]:
    """What a file says about what it is, beyond its grey levels: the DICOM header fields :data:`HEADER_TAGS`
    (those present; none for PNG/JPEG) and, for a file stored in colour (an RGB or palette PNG/JPEG, a colour DICOM),
    :data:`COLOUR_SHARE` (:func:`colour_share` of its pixels, as text). Empty for an unreadable file (decoding the
    pixels reports the real problem). No patient identifier is among them."""
    try:
        if not is_dicom(data, name):
            return _pil_colour(data)
        import pydicom

        ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True,
                             specific_tags=[*HEADER_TAGS, "PhotometricInterpretation"])
        facts = {tag: str(ds.get(tag)).strip() for tag in HEADER_TAGS if ds.get(tag) not in (None, "")}
        if str(ds.get("PhotometricInterpretation", "")).strip().upper() in _COLOUR_PHOTOMETRIC:
            facts.update(_dicom_colour(data))
        return facts
    except Exception:  # the header is a hint: whatever fails here fails again, with a clear message, in decoding
        return {}


def colour_share(rgb: np.ndarray) -> float:
    """The share of pixels of an ``H x W x 3`` array (integers of their type's full range, or floats in [0, 1])
    whose chroma is at least :data:`COLOUR_CHROMA`."""
    rgb = np.asarray(rgb)
    scale = float(np.iinfo(rgb.dtype).max) if np.issubdtype(rgb.dtype, np.integer) else 1.0
    channels = rgb[..., :3].astype(np.float32) / scale
    return float(np.mean(channels.max(axis=-1) - channels.min(axis=-1) >= COLOUR_CHROMA))


def _pil_colour(data: bytes) -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _colour_facts(Image.open(io.BytesIO(data)))


def _colour_facts(img: Image.Image) -> dict[str, str]:
    """:data:`COLOUR_SHARE` of a PIL image stored in colour (measured on a box-reduced copy when large); nothing
    for a grey one."""
    if img.mode not in _COLOUR_MODES or img.width * img.height > DEFAULT_MAX_PIXELS:
        return {}
    factor = int(np.ceil(np.sqrt(img.width * img.height / _COLOUR_MAX_PIXELS)))
    rgb = img.convert("RGB")
    if factor > 1:
        rgb = rgb.reduce(factor)
    return {COLOUR_SHARE: f"{colour_share(np.asarray(rgb)):.4f}"}


def _dicom_colour(data: bytes) -> dict[str, str]:
    import pydicom
    from pydicom.pixels import pixel_array

    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    if int(ds.get("Columns", 0) or 0) * int(ds.get("Rows", 0) or 0) > DEFAULT_MAX_PIXELS:
        return {}
    arr = pixel_array(ds, index=0) if int(ds.get("NumberOfFrames", 1) or 1) > 1 else ds.pixel_array
    if arr.ndim != 3:
        return {}
    if not np.issubdtype(arr.dtype, np.integer) or arr.dtype.itemsize > 1:
        arr = _min_max(arr[..., :3].astype(np.float64))  # 16/32-bit colour: spread over [0, 1] like the decoder
    return {COLOUR_SHARE: f"{colour_share(arr):.4f}"}


def read_image_bytes(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an in-memory image (an upload); ``name`` is used in messages and to recognise ``.dcm``."""
    return _read_image_bytes(data, name, max_pixels)


def _read_image_bytes(data: bytes, name: str, max_pixels: int, facts: dict[str, str] | None = None) -> np.ndarray:
    """:func:`read_image_bytes`; ``facts``, when given, gets a PNG/JPEG's colour facts from the same decode."""
    if not data:
        raise ImageReadError(f"{name}: empty file (0 bytes)")
    if is_dicom(data, name):
        image = _decode_dicom(data, name, max_pixels)
    else:
        image = _decode_pil(data, name, max_pixels, facts)
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)


def is_dicom(data: bytes, name: str = "") -> bool:
    """DICOM files carry ``DICM`` at byte 128; old ones without the preamble are recognised by their suffix."""
    return data[128:132] == b"DICM" or name.lower().endswith(DICOM_SUFFIXES)


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content, streamed so multi-hundred-MB DICOMs do not load into memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_size(name: str, width: int, height: int, max_pixels: int) -> None:
    """Refuse absurd sizes from the header alone: decompression bombs and thumbnails/icons."""
    if width * height > max_pixels:
        raise ImageReadError(
            f"{name}: {width} x {height} px exceeds the limit of {max_pixels} pixels (possible decompression bomb)"
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageReadError(
            f"{name}: {width} x {height} px is too small to be a radiograph (at least {MIN_SIDE} x {MIN_SIDE})"
        )


def _describe(data: bytes) -> str:
    """A hint of what a non-image file really is, to make the error actionable."""
    if data.startswith(b"%PDF"):
        return "it looks like a PDF document"
    sample = data[:512]
    if sample and all(32 <= b < 127 or b in (9, 10, 13) for b in sample):
        return "it looks like a text file"
    return "unrecognised content"


def _decode_pil(data: bytes, name: str, max_pixels: int, facts: dict[str, str] | None = None) -> np.ndarray:
    """PNG/JPEG via Pillow: header-size check first, then a forced full decode so truncation is caught here;
    ``facts``, when given, gets the image's colour facts (:func:`_colour_facts`) from the same decode."""
    # A truncated radiograph silently padded with grey would train and explain on invented pixels; some libraries
    # flip this global on, so chestxai insists on the strict default before every decode.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            # Pillow's own limits (89 and 179 MP) fire before ours can: report ours, the one the user can change.
            found = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(found.group(1))} pixels" if found else "the image"
            raise ImageReadError(f"{name}: {size} exceeds the limit of {max_pixels} pixels "
                                 "(possible decompression bomb)") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageReadError(f"{name}: not an image (PNG, JPEG or DICOM expected; {_describe(data)})") from exc
        _check_size(name, img.width, img.height, max_pixels)
        try:
            img.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageReadError(f"{name}: truncated or corrupt image data ({exc})") from exc
    if facts is not None:
        facts.update(_colour_facts(img))
    return _pil_to_gray(img)


def _pil_to_gray(img: Image.Image) -> np.ndarray:
    """Scale by the bit depth of the stored type (not min-max) so the grey levels keep their meaning."""
    mode = img.mode
    if mode.startswith("I;16"):
        return np.asarray(img, dtype=np.float32) / 65535.0
    if mode == "I":
        return _scale_int32(np.asarray(img))
    if mode == "F":
        return _min_max(np.asarray(img, dtype=np.float32))
    if mode in ("L", "LA"):
        gray = img.getchannel("L")
    else:  # RGBA (the NIH quirk: alpha dropped), RGB, palette, 1-bit, CMYK ...: ITU-R 601 luminance
        gray = img.convert("RGB").convert("L")
    return np.asarray(gray, dtype=np.float32) / 255.0


def _scale_int32(arr: np.ndarray) -> np.ndarray:
    """Pillow may open 16-bit PNGs as 32-bit 'I': values within 0..65535 are 16-bit data, anything else is min-maxed."""
    if arr.size and arr.min() >= 0 and arr.max() <= 65535:
        return arr.astype(np.float32) / 65535.0
    return _min_max(arr.astype(np.float64))


def _min_max(arr: np.ndarray) -> np.ndarray:
    """Stretch to [0, 1]; a constant image becomes all zeros instead of dividing by zero."""
    arr = np.asarray(arr, dtype=np.float64)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros(arr.shape, dtype=np.float32)
    return ((arr - lo) / (hi - lo)).astype(np.float32)


def _decode_dicom(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    """DICOM: modality LUT (stored values -> HU/OD), VOI LUT or window, MONOCHROME1 inversion, first frame only."""
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except Exception as exc:  # pydicom raises many types on garbage; all mean "not DICOM" to the user
        raise ImageReadError(f"{name}: not a readable DICOM file ({exc})") from exc
    if not any(tag in ds for tag in _PIXEL_TAGS):
        raise ImageReadError(f"{name}: DICOM file has no pixel data (a report or structured document?)")
    _check_size(name, int(ds.get("Columns", 0) or 0), int(ds.get("Rows", 0) or 0), max_pixels)
    try:
        arr = pixel_array(ds, index=0) if int(ds.get("NumberOfFrames", 1) or 1) > 1 else ds.pixel_array
        if arr.ndim == 3:  # colour secondary capture: no LUTs apply to RGB
            return _min_max(arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114]))
        arr = apply_voi_lut(apply_modality_lut(arr, ds), ds)
    except _DICOM_DECODE_ERRORS as exc:
        raise ImageReadError(f"{name}: cannot decode DICOM pixel data ({exc})") from exc
    image = _min_max(arr)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1":
        image = 1.0 - image
    return image
