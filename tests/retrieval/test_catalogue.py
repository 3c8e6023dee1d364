"""The catalogue: round trip, idempotent re-indexing, crash safety, removal, PHI never stored, exact search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chestxai.data.datasets import load_dataset
from chestxai.errors import ConfigError, DataFormatError
from chestxai.retrieval.catalogue import Catalogue
from chestxai.retrieval.embedders import CNNEmbedder


@pytest.fixture(scope="module")
def small_data(synthetic_dir: Path):
    return load_dataset(synthetic_dir, findings=["effusion", "pneumonia"]).subset(np.arange(24))


@pytest.fixture
def embedder(tiny_model) -> CNNEmbedder:
    return CNNEmbedder(tiny_model)


def test_round_trip_labels_boxes_and_search(small_data, embedder, tmp_path: Path) -> None:
    with Catalogue(tmp_path / "cat") as cat:
        report = cat.add_dataset(small_data, embedder, chunk_size=10)
    assert report.added == 24 and report.skipped == 0
    with Catalogue(tmp_path / "cat", create=False) as cat:
        assert cat.info() == {"cases": 24, "embedders": ["cnn"]}
        query = small_data[3]["image"]
        hits = cat.search(query, embedder, k=5)
        assert len(hits) == 5 and hits[0][0].image == small_data.paths[3]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        case = hits[0][0]
        assert case.labels == {"effusion": int(small_data.labels[3, 0]), "pneumonia": int(small_data.labels[3, 1])}
        assert Path(case.thumbnail).is_file()
        boxed = [c for c in cat.cases() if c.boxes]
        assert boxed and boxed[0].boxes[0]["finding"] == "effusion"
        assert set(cat.search_ssim(query, k=3)[0][0].to_json()) == {"case", "image", "labels"}


def test_reindexing_is_idempotent(small_data, embedder, tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "cat")
    cat.add_dataset(small_data.subset(np.arange(10)), embedder)
    again = cat.add_dataset(small_data, embedder)
    assert again.added == 14 and again.skipped == 10
    assert cat.add_dataset(small_data, embedder).added == 0
    assert len(cat) == 24 and cat.index("cnn").ntotal == 24
    assert len(list((tmp_path / "cat" / "indexes").iterdir())) == 1  # superseded generations are deleted


def test_crash_between_vector_write_and_commit(small_data, embedder, tmp_path: Path, monkeypatch) -> None:
    cat = Catalogue(tmp_path / "cat")
    cat.add_dataset(small_data.subset(np.arange(8)), embedder)

    def crash(self) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(Catalogue, "_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        cat.add_dataset(small_data.subset(np.arange(8, 16)), embedder)
    assert len(list((tmp_path / "cat" / "indexes").glob("*.faiss"))) == 2  # the new generation was durable
    cat.close()
    monkeypatch.undo()

    again = Catalogue(tmp_path / "cat", create=False)
    assert len(again) == 8 and again.index("cnn").ntotal == 8
    assert {c.image for c in again.cases()} == set(small_data.paths[:8])
    assert again.search(small_data[9]["image"], embedder, k=20)[0][0].image in small_data.paths[:8]
    resumed = again.add_dataset(small_data.subset(np.arange(16)), embedder)  # the same run again resumes
    assert resumed.added == 8 and len(again) == 16 and again.index("cnn").ntotal == 16
    assert len(list((tmp_path / "cat" / "indexes").iterdir())) == 1  # the orphan is swept


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_remove_takes_case_out_of_db_and_index(small_data, embedder, tmp_path: Path, index_type: str) -> None:
    cat = Catalogue(tmp_path / "cat")
    cat.add_dataset(small_data.subset(np.arange(12)), embedder, index_type=index_type)
    target = cat.search(small_data[2]["image"], embedder, k=1)[0][0]
    assert cat.remove([target.id, 10_000]) == 1
    assert len(cat) == 11 and cat.index("cnn").ntotal == 11
    assert target.id not in [c.id for c, _ in cat.search(small_data[2]["image"], embedder, k=11)]
    assert cat.embedders()[0]["index_type"] == index_type
    with pytest.raises(ConfigError, match=index_type):
        cat.add_dataset(small_data, embedder, index_type="ivfpq" if index_type == "flat" else "flat")


def test_exact_search_equals_brute_force_numpy(small_data, embedder, tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "cat")
    cat.add_dataset(small_data, embedder)
    ids = np.asarray(cat.case_ids())
    by_id = {c.id: c.image for c in cat.cases()}
    vectors = embedder.embed([small_data[i]["image"] for i in range(len(small_data))])
    row_of = {p: i for i, p in enumerate(small_data.paths)}
    stored = vectors[[row_of[by_id[i]] for i in ids]]
    queries = vectors[:5] + 0.01 * np.random.default_rng(0).standard_normal(vectors[:5].shape).astype(np.float32)
    found_ids, scores = cat.search_vectors("cnn", queries, k=24)
    brute = queries @ stored.T
    for q in range(5):
        order = np.argsort(-brute[q], kind="stable")
        np.testing.assert_array_equal(found_ids[q], ids[order])
        np.testing.assert_allclose(scores[q], np.clip(brute[q][order], -1, 1), atol=1e-5)


def test_a_different_model_cannot_mix_vectors(small_data, embedder, tmp_path: Path, tiny_checkpoint) -> None:
    import torch

    from chestxai.models.checkpoint import load_checkpoint

    cat = Catalogue(tmp_path / "cat")
    cat.add_dataset(small_data.subset(np.arange(4)), embedder)
    other = load_checkpoint(tiny_checkpoint)
    with torch.no_grad():
        other.head.weight.mul_(2)
    with pytest.raises(ConfigError, match="another model"):
        cat.add_dataset(small_data, CNNEmbedder(other))
    with pytest.raises(DataFormatError, match="not a catalogue"):
        Catalogue(tmp_path / "nowhere", create=False)


def test_dicom_phi_never_reaches_the_catalogue(dicom_writer, embedder, tmp_path: Path) -> None:
    from pydicom import dcmread

    rng = np.random.default_rng(0)
    folder = tmp_path / "dicoms"
    phi = {"PatientName": "DOE^JOHNATHAN", "PatientBirthDate": "19450317", "AccessionNumber": "ACC7781234",
           "InstitutionName": "Saint Elsewhere Hospital"}
    for i in range(3):
        path = dicom_writer(folder / f"MRN99812{i}.dcm", rng.integers(0, 4000, (40, 40)), patient_id=f"MRN99812{i}")
        ds = dcmread(path)
        for tag, value in phi.items():
            setattr(ds, tag, value)
        ds.save_as(path)
    cat = Catalogue(tmp_path / "cat")
    cat.add_dataset(load_dataset(folder), embedder)
    assert len(cat) == 3
    cat.close()
    blob = b"".join(p.read_bytes() for p in (tmp_path / "cat").rglob("*") if p.is_file())
    for secret in [*phi.values(), "DOE", "MRN99812", "JOHNATHAN"]:
        assert secret.encode() not in blob, secret
    assert b"DOE^JOHNATHAN" in (folder / "MRN998120.dcm").read_bytes()  # the check could have failed
