"""read_image / read_image_bytes: every format quirk and every bad input a user can hand us."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from chestxai.data.io import (
    COLOUR_SHARE,
    file_sha256,
    read_header,
    read_image,
    read_image_and_header_bytes,
    read_image_bytes,
)
from chestxai.errors import ImageReadError

RAMP = np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))  # 24 x 32, 0..248


def _save(img: Image.Image, path: Path, **kwargs: object) -> Path:
    img.save(path, **kwargs)
    return path


def test_png_8bit_scaled_by_255(tmp_path: Path) -> None:
    out = read_image(_save(Image.fromarray(RAMP), tmp_path / "a.png"))
    assert out.dtype == np.float32 and out.shape == (24, 32)
    np.testing.assert_allclose(out, RAMP / 255.0, atol=1e-6)


def test_png_16bit_scaled_by_type_max_not_255(tmp_path: Path) -> None:
    values = np.full((20, 20), 1000, dtype=np.uint16)
    values[0, 0] = 65535
    out = read_image(_save(Image.fromarray(values), tmp_path / "a16.png"))
    assert out.max() == pytest.approx(1.0)
    assert out[5, 5] == pytest.approx(1000 / 65535, rel=1e-4)


def test_int32_mode_holding_16bit_values(tmp_path: Path) -> None:
    values = np.full((20, 20), 30000, dtype=np.int32)  # Pillow cannot write mode I as PNG; TIFF keeps it
    out = read_image(_save(Image.fromarray(values, mode="I"), tmp_path / "i.tif"))
    assert out[0, 0] == pytest.approx(30000 / 65535, rel=1e-4)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_colour_becomes_luminance_alpha_dropped(tmp_path: Path, mode: str) -> None:
    gray = Image.fromarray(RAMP)
    img = gray.convert(mode)
    if mode == "RGBA":
        img.putalpha(0)  # a fully transparent NIH quirk must still give the grey values
    out = read_image(_save(img, tmp_path / f"{mode}.png"))
    np.testing.assert_allclose(out, RAMP / 255.0, atol=1 / 255)


def test_palette_image(tmp_path: Path) -> None:
    img = Image.fromarray(RAMP).convert("P")
    out = read_image(_save(img, tmp_path / "p.png"))
    np.testing.assert_allclose(out, RAMP / 255.0, atol=2 / 255)


def test_jpeg(tmp_path: Path) -> None:
    out = read_image(_save(Image.fromarray(RAMP), tmp_path / "a.jpg", quality=95))
    assert out.shape == (24, 32) and 0.0 <= out.min() and out.max() <= 1.0
    assert np.abs(out - RAMP / 255.0).mean() < 0.02


def test_bytes_and_file_agree(tmp_path: Path) -> None:
    path = _save(Image.fromarray(RAMP), tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(path), read_image_bytes(path.read_bytes(), "upload.png"))


def test_dicom_monochrome2_16bit_min_max(tmp_path: Path, dicom_writer) -> None:
    pixels = np.tile(np.arange(64, dtype=np.uint16) * 1000, (20, 1))
    out = read_image(dicom_writer(tmp_path / "m2.dcm", pixels))
    assert out.shape == (20, 64) and out[0, 0] == 0.0 and out[0, -1] == 1.0
    assert np.all(np.diff(out[0]) > 0)


def test_dicom_monochrome1_is_inverted(tmp_path: Path, dicom_writer) -> None:
    pixels = np.tile(np.arange(64, dtype=np.uint16) * 1000, (20, 1))
    out = read_image(dicom_writer(tmp_path / "m1.dcm", pixels, "MONOCHROME1"))
    assert out[0, 0] == 1.0 and out[0, -1] == 0.0


def test_dicom_voi_window_clips_outside_values(tmp_path: Path, dicom_writer) -> None:
    pixels = np.tile(np.arange(64, dtype=np.uint16) * 1000, (20, 1))
    out = read_image(dicom_writer(tmp_path / "w.dcm", pixels, window=(32000, 20000)))
    below, above = pixels[0] <= 22000, pixels[0] >= 42000
    assert np.all(out[0, below] == 0.0) and np.all(out[0, above] == 1.0)
    inside = out[0, ~below & ~above]
    assert np.all((inside > 0) & (inside < 1)) and np.all(np.diff(inside) > 0)


def test_dicom_multiframe_takes_first_frame(tmp_path: Path, dicom_writer) -> None:
    first = np.tile(np.arange(32, dtype=np.uint16), (20, 1))
    frames = np.stack([first, first[:, ::-1]])
    out = read_image(dicom_writer(tmp_path / "mf.dcm", frames))
    assert out.shape == (20, 32) and out[0, 0] == 0.0 and out[0, -1] == 1.0


def test_dicom_recognised_by_magic_without_suffix(tmp_path: Path, dicom_writer) -> None:
    path = dicom_writer(tmp_path / "noext.dcm", np.tile(np.arange(32, dtype=np.uint16), (20, 1)))
    renamed = path.rename(tmp_path / "IMG0001")
    assert read_image(renamed).shape == (20, 32)


def _saved(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_colour_share_is_read_before_the_pixels_turn_grey() -> None:
    """A grey file has no colour fact; the same grey levels stored as RGB (PNG, or JPEG with its chroma subsampling)
    measure 0; a red-and-grey picture measures its red share."""
    ramp = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (64, 1)))
    assert read_header(_saved(ramp, "PNG"), "g.png") == {}
    for fmt in ("PNG", "JPEG"):
        assert read_header(_saved(ramp.convert("RGB"), fmt), f"g.{fmt}") == {COLOUR_SHARE: "0.0000"}
    picture = np.stack([np.tile(np.arange(256, dtype=np.uint8), (64, 1))] * 3, axis=-1)
    picture[:16, :, 0], picture[:16, :, 1:] = 255, 0  # a quarter of the rows pure red
    assert float(read_header(_saved(Image.fromarray(picture), "PNG"), "c.png")[COLOUR_SHARE]) == pytest.approx(0.25)
    assert read_header(b"not an image at all", "x.png") == {}


def test_an_upload_is_decoded_once_for_its_grey_levels_and_its_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grey image and the colour fact of a PNG/JPEG come from one decode, and equal what the two separate
    readers give."""
    import chestxai.data.io as image_io

    picture = np.stack([np.tile(np.arange(256, dtype=np.uint8), (64, 1))] * 3, axis=-1)
    picture[:16, :, 0], picture[:16, :, 1:] = 255, 0
    grey = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (64, 1)))
    files = {"c.png": _saved(Image.fromarray(picture), "PNG"), "c.jpg": _saved(Image.fromarray(picture), "JPEG"),
             "g.png": _saved(grey, "PNG")}
    opened = []
    real_open = image_io.Image.open
    monkeypatch.setattr(image_io.Image, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    for name, data in files.items():
        opened.clear()
        image, header = read_image_and_header_bytes(data, name)
        assert len(opened) == 1, name
        assert np.array_equal(image, read_image_bytes(data, name)) and header == read_header(data, name)
    assert float(read_image_and_header_bytes(files["c.png"], "c.png")[1][COLOUR_SHARE]) == pytest.approx(0.25)
    with pytest.raises(image_io.ImageReadError, match="not an image"):
        read_image_and_header_bytes(b"not an image at all", "x.png")


def test_colour_dicom_measures_its_colour() -> None:
    from pydicom.data import get_testdata_file

    data = Path(get_testdata_file("SC_rgb_rle.dcm")).read_bytes()  # bundled with pydicom: RGB colour bars
    assert float(read_header(data, "sc.dcm")[COLOUR_SHARE]) > 0.5


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 3_000_000)
    assert file_sha256(path, chunk_size=1 << 16) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


# --- bad inputs: one ImageReadError, naming the file and the problem ---


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _expect_error(path: Path, words: str, **kwargs: object) -> None:
    with pytest.raises(ImageReadError) as info:
        read_image(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert str(path) in message and words in message and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.png", "not found")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    _expect_error(tmp_path / "empty.png", "empty file")


def test_text_renamed_png(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("patient notes, not pixels\n" * 10)
    _expect_error(tmp_path / "notes.png", "not an image")


def test_pdf_renamed_png(tmp_path: Path) -> None:
    (tmp_path / "report.png").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" + bytes(200))
    _expect_error(tmp_path / "report.png", "PDF")


def _truncated_png(tmp_path: Path) -> Path:
    """Noise compresses badly, so half of the file really lacks half of the pixel rows."""
    data = _png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.png"


def test_truncated_png(tmp_path: Path) -> None:
    _expect_error(_truncated_png(tmp_path), "truncated")


def test_truncated_png_even_if_someone_enabled_lenient_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    _expect_error(_truncated_png(tmp_path), "truncated")


def test_truncated_jpeg(tmp_path: Path) -> None:
    noisy = np.random.default_rng(2).integers(0, 255, (64, 64), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[:600])
    _expect_error(tmp_path / "cut.jpg", "truncated")


def test_dicom_without_pixel_data(tmp_path: Path, dicom_writer) -> None:
    _expect_error(dicom_writer(tmp_path / "sr.dcm", None), "no pixel data")


def test_png_bomb_refused_before_decoding(tmp_path: Path) -> None:
    path = _save(Image.fromarray(np.zeros((100, 100), dtype=np.uint8)), tmp_path / "big.png")
    _expect_error(path, "decompression bomb", max_pixels=5_000)


@pytest.mark.parametrize("side", [10_000, 20_000])  # above Pillow's own 89 MP warning and 179 MP error limits
def test_huge_png_is_refused_with_our_limit_not_pillows(side: int) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header_only = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                   + chunk(b"IEND", b""))
    with pytest.raises(ImageReadError) as err:
        read_image_bytes(header_only, "huge.png", max_pixels=40_000_000)
    message = str(err.value)
    assert "exceeds the limit of 40000000 pixels" in message and str(side * side) in message
    assert "178956970" not in message and "89478485" not in message


def test_dicom_bomb_refused_before_decoding(tmp_path: Path, dicom_writer) -> None:
    path = dicom_writer(tmp_path / "big.dcm", np.zeros((100, 100), dtype=np.uint16))
    _expect_error(path, "decompression bomb", max_pixels=5_000)


def test_too_small_image(tmp_path: Path) -> None:
    path = _save(Image.fromarray(np.zeros((10, 10), dtype=np.uint8)), tmp_path / "tiny.png")
    _expect_error(path, "too small to be a radiograph")


def test_upload_errors_name_the_upload() -> None:
    with pytest.raises(ImageReadError, match="upload.png: empty file"):
        read_image_bytes(b"", "upload.png")
    with pytest.raises(ImageReadError, match="upload.png: not an image"):
        read_image_bytes(b"hello world" * 20, "upload.png")
