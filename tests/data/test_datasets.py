"""Every dataset reader on tiny fixtures, format detection, and the plain reader on the real shared folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from chestxai.data.datasets import detect_format, load_dataset, locate_dataset
from chestxai.data.datasets.folders import kaggle_patient_id
from chestxai.errors import ConfigError, DataFormatError, UnknownFindingError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def _png(path: Path, size: int = 20) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), 128, dtype=np.uint8)).save(path)


# --- plain CSV ---


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    for i in range(4):
        _png(tmp_path / "images" / f"{i}.png")
    (tmp_path / "labels.csv").write_text(
        "image,patient_id,view,Pleural Effusion,pneumonia,nih_followup,split,width,other_findings\n"
        "images/0.png,p0,PA,,1,0,train,20,\n"
        "images/1.png,p0,PA,,0,1,train,20,Mass\n"
        "images/2.png,p1,LATERAL,,-1,0,test,20,\n"
        "images/3.png,p2,AP,,0,1,test,20,\n"
        "images/missing.png,p3,PA,,1,0,test,20,\n"
    )
    (tmp_path / "boxes.csv").write_text(
        "image,finding,x,y,w,h,box_source\n"
        "images/0.png,Pneumonia,1,2,3,4,test\n"
        "images/missing.png,Pneumonia,1,1,1,1,t\n"
    )
    return tmp_path


def test_csv_reader_findings_metadata_and_unknowns(plain_dir: Path) -> None:
    ds = load_dataset(plain_dir, frontal_only=False, uncertainty="ignore")
    assert detect_format(plain_dir) == "csv"
    assert ds.findings == ["effusion", "pneumonia"]  # nih_followup, split, width are metadata
    assert np.isnan(ds.labels[:, 0]).all()  # an empty column is unknown, never 0
    np.testing.assert_array_equal(ds.labels[:, 1], [1, 0, np.nan, 0])
    assert {"nih_followup", "split", "width", "other_findings"} <= set(ds.meta.columns)
    assert all(Path(p).is_absolute() for p in ds.paths)
    assert ds.skipped == [(str(plain_dir / "images" / "missing.png"), "image file not found")]
    assert ds.boxes[["finding", "x", "y", "w", "h"]].values.tolist() == [["pneumonia", 1.0, 2.0, 3.0, 4.0]]
    assert ds.meta["source"].eq(f"csv:{plain_dir.name}").all()


def test_csv_reader_frontal_only_and_select(plain_dir: Path) -> None:
    ds = load_dataset(plain_dir / "labels.csv", findings=["Pneumonia"])
    assert ds.findings == ["pneumonia"] and len(ds) == 3 and "LATERAL" not in set(ds.meta["view"])
    with pytest.raises(UnknownFindingError, match="cardiomegaly"):
        load_dataset(plain_dir, findings=["cardiomegaly"])


def test_csv_missing_image_column(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("file,effusion\na.png,1\n")
    with pytest.raises(DataFormatError, match=r"labels\.csv: missing required column\(s\) image"):
        load_dataset(tmp_path)


# --- CheXpert ---


CHEXPERT_HEADER = "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Cardiomegaly,Pleural Effusion,Pneumonia\n"


@pytest.fixture
def chexpert_dir(tmp_path: Path) -> Path:
    """The official shape: the CSV inside ``CheXpert-v1.0-small/`` whose name its paths start with."""
    root = tmp_path / "CheXpert-v1.0-small"
    rows = [
        ("train/patient00001/study1/view1_frontal.jpg", "Frontal", "AP", "1,,0,"),
        ("train/patient00001/study1/view2_lateral.jpg", "Lateral", "", ",1,1,-1"),
        ("train/patient00002/study1/view1_frontal.jpg", "Frontal", "PA", ",-1,-1,1"),
        ("train/patient00003/study1/view1_frontal.jpg", "Frontal", "PA", ",0,-1,"),
    ]
    lines = [CHEXPERT_HEADER]
    for rel, fl, ap, labels in rows:
        _png(root / rel)
        lines.append(f"CheXpert-v1.0-small/{rel},Female,50,{fl},{ap},{labels}\n")
    lines.append("CheXpert-v1.0-small/train/patient00009/study1/view1_frontal.jpg,Male,40,Frontal,PA,,,1,\n")
    (root / "train.csv").write_text("".join(lines))
    return root


@pytest.mark.parametrize(("policy", "uncertain"), [("ones", 1.0), ("zeros", 0.0), ("ignore", np.nan)])
def test_chexpert_uncertainty_policies(chexpert_dir: Path, policy: str, uncertain: float) -> None:
    ds = load_dataset(chexpert_dir / "train.csv", uncertainty=policy, frontal_only=False)
    assert ds.findings == ["normal", "cardiomegaly", "pneumonia", "effusion"]  # CheXpert's own column order
    expected = np.array(
        [[1, 0, 0, 0], [0, 1, uncertain, 1], [0, uncertain, 1, uncertain], [0, 0, 0, uncertain]], dtype=np.float32
    )
    np.testing.assert_array_equal(ds.labels, expected)  # blank -> 0 under every policy


def test_chexpert_paths_patients_views(chexpert_dir: Path) -> None:
    assert detect_format(chexpert_dir) == "chexpert" and detect_format(chexpert_dir / "train.csv") == "chexpert"
    ds = load_dataset(chexpert_dir, frontal_only=False)
    assert all(Path(p).is_file() for p in ds.paths)
    assert ds.meta["patient_id"].tolist() == ["patient00001", "patient00001", "patient00002", "patient00003"]
    assert ds.meta["view"].tolist() == ["AP", "LATERAL", "PA", "PA"]
    assert len(ds.skipped) == 1 and "patient00009" in ds.skipped[0][0]
    assert len(load_dataset(chexpert_dir)) == 3  # the lateral view is dropped by default


def test_chexpert_paths_relative_to_csv_parent(chexpert_dir: Path) -> None:
    """A CSV moved beside the dataset folder still finds its images."""
    outside = chexpert_dir.parent / "train.csv"
    outside.write_text((chexpert_dir / "train.csv").read_text())
    assert len(load_dataset(outside, format="chexpert", frontal_only=False)) == 4


def test_chexpert_bad_policy_and_missing_columns(chexpert_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="uncertainty"):
        load_dataset(chexpert_dir, uncertainty="maybe")
    bad = tmp_path / "bad.csv"
    bad.write_text("Path,Frontal/Lateral,AP/PA\nx.jpg,Frontal,PA\n")
    with pytest.raises(DataFormatError, match="bad.csv: missing the finding columns"):
        load_dataset(bad)


# --- NIH ---


NIH_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
)


@pytest.fixture
def nih_dir(tmp_path: Path) -> Path:
    """Official layout (``images_001/images``), 384-px copies of the 1024-px release, one image absent."""
    _png(tmp_path / "images_001" / "images" / "00000001_000.png", 384)
    _png(tmp_path / "images_002" / "images" / "00000002_000.png", 384)
    (tmp_path / "Data_Entry_2017.csv").write_text(
        NIH_HEADER
        + "00000001_000.png,Cardiomegaly|Effusion,0,1,58,M,PA,2682,2749,0.143,0.143,\n"
        + "00000002_000.png,No Finding,0,2,81,F,AP,2500,2048,0.168,0.168,\n"
        + "00000003_000.png,Pleural_Thickening,0,3,70,M,PA,2500,2048,0.168,0.168,\n"
    )
    (tmp_path / "BBox_List_2017.csv").write_text(
        "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
        "00000001_000.png,Effusion,100,200,300,400,,,\n"
        "00000001_000.png,Infiltrate,0,0,1024,512,,,\n"
        "00000003_000.png,Pleural_Thickening,1,1,1,1,,,\n"
    )
    return tmp_path


def test_nih_labels_patients_and_skips(nih_dir: Path) -> None:
    ds = load_dataset(nih_dir)
    assert detect_format(nih_dir) == "nih"
    assert len(ds.findings) == 15 and {"effusion", "pleural_thickening", "normal", "infiltration"} <= set(ds.findings)
    row = dict(zip(ds.findings, ds.labels[0]))
    assert row["cardiomegaly"] == 1 and row["effusion"] == 1 and row["normal"] == 0 and row["pneumonia"] == 0
    assert dict(zip(ds.findings, ds.labels[1]))["normal"] == 1
    assert ds.meta["patient_id"].tolist() == ["nih_00001", "nih_00002"]
    assert ds.meta["view"].tolist() == ["PA", "AP"]
    assert ds.meta["acquisition_width"].tolist() == [2682, 2500]
    assert ds.skipped == [("00000003_000.png", "image file not found")]


def test_nih_boxes_rescaled_to_file_on_disk(nih_dir: Path) -> None:
    boxes = load_dataset(nih_dir / "Data_Entry_2017.csv").boxes
    assert boxes["finding"].tolist() == ["effusion", "infiltration"]
    np.testing.assert_allclose(boxes.iloc[0][["x", "y", "w", "h"]].astype(float), [37.5, 75, 112.5, 150])
    np.testing.assert_allclose(boxes.iloc[1][["w", "h"]].astype(float), [384, 192])


def test_nih_v2020_variant_in_flat_images_folder(tmp_path: Path) -> None:
    _png(tmp_path / "images" / "00000005_001.png", 1024)
    (tmp_path / "Data_Entry_2017_v2020.csv").write_text(
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]\n"
        "00000005_001.png,Pneumonia|Infiltration,1,5,30,F,PA,1024,1024,0.1,0.1\n"
    )
    (tmp_path / "BBox_List_2017.csv").write_text(
        "Image Index,Finding Label,x,y,w,h\n00000005_001.png,Pneumonia,10,20,30,40\n"
    )
    ds = load_dataset(tmp_path)
    assert dict(zip(ds.findings, ds.labels[0]))["pneumonia"] == 1
    assert ds.boxes[["x", "y", "w", "h"]].values.tolist() == [[10, 20, 30, 40]]


def test_nih_missing_column(tmp_path: Path) -> None:
    (tmp_path / "Data_Entry_2017.csv").write_text("Image Index,Patient ID\na.png,1\n")
    with pytest.raises(DataFormatError, match="Data_Entry_2017.csv: missing required column.*Finding Labels"):
        load_dataset(tmp_path)


# --- Kaggle class folders ---


KAGGLE_FILES = {
    "train/NORMAL": ["IM-0115-0001.jpeg", "NORMAL2-IM-0372-0001.jpeg"],
    "train/PNEUMONIA": ["person1_bacteria_1.jpeg", "person1_bacteria_2.jpeg", "person3_virus_7.jpeg"],
    "val/NORMAL": ["IM-0200-0001.jpeg"],
    "test/PNEUMONIA": ["person9_virus_20.jpeg"],
}


@pytest.fixture
def kaggle_root(tmp_path: Path) -> Path:
    for folder, names in KAGGLE_FILES.items():
        for name in names:
            _png(tmp_path / "chest_xray" / folder / name)
    _png(tmp_path / "chest_xray" / "__MACOSX" / "NORMAL" / "._junk.png")
    (tmp_path / "chest_xray" / "train" / "NORMAL" / ".DS_Store").write_text("x")
    return tmp_path


def test_kaggle_layout(kaggle_root: Path) -> None:
    ds = load_dataset(kaggle_root)
    assert detect_format(kaggle_root) == "folder"
    assert ds.findings == ["pneumonia", "normal"] and len(ds) == 7
    np.testing.assert_array_equal(ds.labels[:, 0], 1 - ds.labels[:, 1])
    by_name = ds.meta.set_index("image")
    assert by_name.loc["person1_bacteria_2.jpeg", "patient_id"] == "person1"
    assert by_name.loc["NORMAL2-IM-0372-0001.jpeg", "patient_id"] == "NORMAL2-IM-0372"
    assert by_name.loc["person3_virus_7.jpeg", "other_findings"] == "virus"
    assert by_name.loc["IM-0115-0001.jpeg", "other_findings"] == ""
    assert sorted(ds.meta["split"].unique()) == ["test", "train", "val"]
    assert ds.labels[ds.meta["image"].eq("person9_virus_20.jpeg").to_numpy(), 0].tolist() == [1.0]


def test_kaggle_root_variants(kaggle_root: Path) -> None:
    assert len(load_dataset(kaggle_root / "chest_xray")) == 7
    train = load_dataset(kaggle_root / "chest_xray" / "train")
    assert len(train) == 5 and set(train.meta["split"]) == {"train"}
    with pytest.raises(DataFormatError, match="no class folders"):
        load_dataset(kaggle_root / "chest_xray" / "train" / "PNEUMONIA", format="folder")


@pytest.mark.parametrize(
    ("name", "patient"),
    [("person123_bacteria_456.jpeg", "person123"), ("IM-0115-0001.jpeg", "IM-0115"),
     ("NORMAL2-IM-0372-0001.jpeg", "NORMAL2-IM-0372"), ("k_IM-0117-0001.png", "IM-0117"), ("scan.png", "")],
)
def test_kaggle_patient_ids(name: str, patient: str) -> None:
    assert kaggle_patient_id(name) == patient


# --- DICOM folder, detection errors ---


def test_dicom_folder_without_labels(tmp_path: Path, dicom_writer) -> None:
    pixels = np.zeros((20, 20), dtype=np.uint16)
    dicom_writer(tmp_path / "a" / "1.dcm", pixels, patient_id="P1", view="PA")
    dicom_writer(tmp_path / "b" / "2.dcm", pixels, patient_id="P2", view="LL")
    assert detect_format(tmp_path) == "dicom"
    ds = load_dataset(tmp_path)
    assert ds.labels.shape == (1, 0) and ds.findings == []
    assert ds.meta["patient_id"].tolist() == ["P1"]
    assert len(load_dataset(tmp_path, frontal_only=False)) == 2


def test_nothing_recognisable(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(DataFormatError) as info:
        load_dataset(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "labels.csv" in message and "Data_Entry_2017" in message
    assert "Frontal/Lateral" in message and "NORMAL/PNEUMONIA" in message and ".dcm" in message


def test_dataset_inside_a_wrapper_folder(chexpert_dir: Path, tmp_path: Path) -> None:
    """The folder a download unpacked into (here the one holding ``CheXpert-v1.0-small/``) reads as the dataset."""
    assert locate_dataset(tmp_path) == (chexpert_dir, "chexpert")
    assert len(load_dataset(tmp_path, frontal_only=False)) == 4
    with pytest.raises(DataFormatError, match="no dataset layout recognised"):
        detect_format(tmp_path)  # detection itself stays literal
    (tmp_path / "__MACOSX" / "chest_xray" / "NORMAL").mkdir(parents=True)  # archive debris is not a candidate
    _png(tmp_path / "__MACOSX" / "chest_xray" / "NORMAL" / "a.png")
    assert locate_dataset(tmp_path)[0] == chexpert_dir
    _png(tmp_path / "kids" / "NORMAL" / "a.png")
    with pytest.raises(DataFormatError, match=r"several datasets in its sub-folders \(CheXpert-v1.0-small, kids\)"):
        load_dataset(tmp_path)


def test_bad_path_and_format(tmp_path: Path, plain_dir: Path) -> None:
    with pytest.raises(DataFormatError, match="no such file"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="unknown dataset format"):
        load_dataset(plain_dir, format="parquet")
    with pytest.raises(DataFormatError):
        load_dataset(plain_dir, format="nih")


# --- the real shared folders ---


@pytest.mark.skipif(not (SHARED / "data" / "labels.csv").is_file(), reason="../shared/data not present")
def test_shared_data_folder() -> None:
    ds = load_dataset(SHARED / "data")
    assert len(ds) == 948 and ds.findings == ["effusion", "pneumonia", "normal"]
    assert ds.meta["patient_id"].nunique() == 805 and not np.isnan(ds.labels).any()
    assert ds.describe()["effusion"]["positive"] == 119
    assert len(ds.boxes) == 304 and set(ds.boxes["path"]) <= set(ds.paths)
    assert not ds.skipped


@pytest.mark.skipif(not (SHARED / "kermany" / "labels.csv").is_file(), reason="../shared/kermany not present")
def test_shared_kermany_effusion_is_unknown() -> None:
    ds = load_dataset(SHARED / "kermany")
    assert np.isnan(ds.labels[:, ds.findings.index("effusion")]).all()
    assert not np.isnan(ds.labels[:, ds.findings.index("pneumonia")]).any()
    assert isinstance(ds.meta, pd.DataFrame) and "other_findings" in ds.meta.columns
