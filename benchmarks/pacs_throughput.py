"""Images per minute through both PACS flows against a local Orthanc, next to the in-process analysis of the same
images in the same run: the DICOM overhead as a ratio (goal <= 1.3x).

- in-process: ``Analyzer.analyze`` on each image's DICOM bytes (what ``POST /api/v1/analyze`` and both flows run);
- DICOMweb: ``chestxai.pacs.dicomweb.analyze_studies`` over ``--studies`` one-image studies (QIDO, WADO, analysis,
  SR + GSPS + SC built with highdicom, STOW), timed from the first query to the last store;
- DIMSE: the studies uploaded to an Orthanc whose Lua rule routes CR/DX to a ``DicomNode`` (pynetdicom) in this
  process, which sends the three results back; timed from the first upload until Orthanc holds every result.

Same model, catalogue, saliency method and torch threads in all three. Needs Debian's ``orthanc`` and
``orthanc-dicomweb``; the Orthanc launcher and the study builder are the tests' (``tests/pacs/pacs_helpers.py``).

    python benchmarks/pacs_throughput.py --studies 50 --rounds 3 --out benchmarks/results/pacs_throughput.md
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "pacs"))

import requests  # noqa: E402
import torch  # noqa: E402
from pacs_helpers import DATA, NODE_AET, ORTHANC, ORTHANC_AET, PASSWORD, USER, Orthanc, build_study, free_port  # noqa: E402

from chestxai.pacs.dicomweb import Pacs, analyze_studies  # noqa: E402
from chestxai.pacs.node import Destination, DicomNode  # noqa: E402
from chestxai.pacs.objects import load_analyzer, to_bytes  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=50, help="one-image studies per flow")
    p.add_argument("--model", help="checkpoint or shipped name (default: the shipped default model)")
    p.add_argument("--catalogue", help="case catalogue (default: the shipped sample; 'none' for no similar cases)")
    p.add_argument("--methods", default="gradcam")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--rounds", type=int, default=3, help="rounds of (baseline, DICOMweb, baseline, DIMSE)")
    p.add_argument("--out", help="also write the table (with the command) to this file")
    return p.parse_args(argv)


def studies(n: int) -> list[tuple[str, bytes]]:
    images = sorted((DATA / "images").glob("*.png"))[:n]
    out = []
    for path in images:
        study, (ds,) = build_study([path], lateral=False, corrupt=False, other=False)
        out.append((study, to_bytes(ds)))
    return out


def result_count(orthanc: Orthanc) -> int:
    answer = requests.post(f"{orthanc.url}/tools/find", auth=orthanc.auth, timeout=60,
                           json={"Level": "Series", "Query": {"SeriesDescription": "chestxai*"}, "Expand": True})
    return sum(len(s["Instances"]) for s in answer.json())


def instance_count(orthanc: Orthanc) -> int:
    """Every instance Orthanc holds, sources included: a cheap poll (``/statistics``), unlike a search."""
    return int(requests.get(f"{orthanc.url}/statistics", auth=orthanc.auth, timeout=60).json()["CountInstances"])


def warm(analyzer, data: bytes, methods: str) -> None:
    """One untimed analysis and one untimed set of result objects (not stored)."""
    from pydicom import dcmread

    from chestxai.pacs.objects import Analysed, ModelInfo, ResultSeries

    Analysed.of(analyzer, dcmread(io.BytesIO(data)), methods).objects(ModelInfo.of(analyzer), ResultSeries())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if ORTHANC is None:
        print("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    log = lambda m: None  # noqa: E731
    work = studies(args.studies)
    n = len(work)
    analyzer = load_analyzer(args.model, args.catalogue, args.methods, log)

    # Warm-up (first calls build hooks and allocators, highdicom loads its tables of the standard).
    warm(analyzer, work[0][1], args.methods)

    def time_bare() -> float:
        start = time.perf_counter()
        for _, data in work:
            analyzer.analyze(data, args.methods, name="image.dcm")
        return time.perf_counter() - start

    def time_web(root: Path) -> float:
        """DICOMweb: pull, analyse, push."""
        orthanc = Orthanc(root).start()
        try:
            for _, data in work:
                orthanc.upload(data)
            pacs = Pacs(orthanc.dicomweb, USER, PASSWORD)
            start = time.perf_counter()
            summary = analyze_studies(pacs, analyzer, [s for s, _ in work], args.methods)
            seconds = time.perf_counter() - start
            assert summary.analysed == n and result_count(orthanc) == 3 * n, summary.to_json()
            return seconds
        finally:
            orthanc.stop()

    def time_dimse(root: Path) -> float:
        """DIMSE: Orthanc routes each new image to the node, which sends three results back."""
        node_port = free_port()
        orthanc = Orthanc(root / "orthanc", node_port=node_port, routing=True).start()

        def warm_analyzer():  # built and warmed on the node's worker thread, like the baseline's
            built = load_analyzer(args.model, args.catalogue, args.methods, log)
            warm(built, work[0][1], args.methods)
            return built

        node = DicomNode(warm_analyzer, NODE_AET, node_port,
                         Destination(ORTHANC_AET, "127.0.0.1", orthanc.dicom_port), root / "spool",
                         args.methods, host="127.0.0.1", log=log).start()
        try:
            start = time.perf_counter()
            for _, data in work:
                orthanc.upload(data)
            while instance_count(orthanc) < 4 * n:  # the n sources and their 3 n results
                if time.perf_counter() - start > 60 * 60:
                    raise RuntimeError("the node's results did not all arrive within an hour")
                time.sleep(0.1)
            seconds = time.perf_counter() - start
            assert result_count(orthanc) == 3 * n
            return seconds
        finally:
            node.stop()
            orthanc.stop()

    # Rounds of (baseline, DICOMweb, baseline, DIMSE): each flow against the baseline measured just before it, so
    # a load that comes and goes on a shared machine moves both sides of a ratio; the median over rounds.
    bare_times, web_times, dimse_times, web_ratios, dimse_ratios = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            bare = time_bare()
            web = time_web(Path(tmp) / f"web{r}")
            bare_times.append(bare)
            web_times.append(web)
            web_ratios.append(web / bare)
            bare = time_bare()
            dimse = time_dimse(Path(tmp) / f"dimse{r}")
            bare_times.append(bare)
            dimse_times.append(dimse)
            dimse_ratios.append(dimse / bare)
    analyzer.close()
    median = statistics.median

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    rows = [("in-process Analyzer.analyze (baseline)", bare_times, [1.0]),
            ("DICOMweb: pacs analyze (QIDO/WADO/STOW)", web_times, web_ratios),
            ("DIMSE: Orthanc routing -> dicom-node -> C-STORE back", dimse_times, dimse_ratios)]
    command = shlex.join(["python", "benchmarks/pacs_throughput.py", *(argv or sys.argv[1:])])
    lines = [
        f"# PACS throughput: {n} one-image studies, model {analyzer.model_name}, methods {args.methods}",
        "",
        f"`{command}` on {platform.machine()} ({os.cpu_count()} CPUs visible), torch {torch.__version__}, "
        f"{args.threads} torch thread(s), catalogue: {'none' if args.catalogue == 'none' else args.catalogue or 'shipped sample'}"
        f"; load average at the end {load}; {args.rounds} round(s) of baseline, DICOMweb, baseline, DIMSE, each flow "
        "against the baseline run just before it; medians over the rounds",
        "",
        "| flow | seconds (median) | images / min | s / image | ratio to in-process (median) | ratios per round |",
        "|---|---|---|---|---|---|",
    ]
    for name, times, ratios in rows:
        seconds = median(times)
        per_round = ", ".join(f"{x:.2f}" for x in ratios) if len(ratios) == len(times) else ""
        lines.append(f"| {name} | {seconds:.1f} | {60.0 * n / seconds:.1f} | {seconds / n:.3f} | "
                     f"{median(ratios):.2f}x | {per_round} |")
    lines += ["", "Each flow's results (SR + GSPS + SC per image) were checked to be in Orthanc before the clock stopped."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
