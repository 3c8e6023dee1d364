"""The one way the tests make a DICOM dataset: file meta, SOP class and a fresh instance UID, explicit VR little
endian, and the pixels (``tests/conftest.write_dicom`` for the readers' files, ``tests/pacs/pacs_helpers.make_image``
for the PACS studies add their own header fields)."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def dicom_dataset(sop_class: str, pixels: np.ndarray | None = None, photometric: str = "MONOCHROME2",
                  bits: int = 16) -> Dataset:
    """A dataset of ``sop_class`` with a new instance UID; ``pixels=None`` leaves out the pixel data."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    if pixels is not None:
        ds.set_pixel_data(pixels, photometric, bits)
    return ds
