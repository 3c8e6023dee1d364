"""How long does one ``chestxai predict`` take with 1 or all intra-op threads, on an idle and on a busy machine?

Each configuration runs ``chestxai predict --threads N IMAGE`` as a fresh process (what a user types, model
loading and the scope check included) ``--repeats`` times, and the median wall time is reported. The competing load is
one busy-looping process per core (``os.cpu_count()``), started before and stopped after the timed runs; the
figures are ratios against one thread on the same machine in the same run, since the absolute times depend on
whatever else shares it.

    python benchmarks/thread_load.py [--image IMAGE] [--repeats 5]

Writes ``benchmarks/results/thread_load.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUSY = "while True: pass"


def time_predict(image: str, threads: int, repeats: int) -> float:
    """Median wall seconds of ``chestxai predict --threads N IMAGE`` in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "chestxai", "predict", "--threads", str(threads), image], env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_process(image: str, threads: int, repeats: int) -> float:
    """Median seconds of the model call alone (model loaded once), in a child process with ``threads`` threads."""
    code = ("import sys, time, statistics, torch; torch.set_num_threads(int(sys.argv[2]));"
            "from chestxai import load_model; from chestxai.data.io import read_image;"
            "from chestxai.models.scope import predict_in_scope;"
            "m = load_model(); im = read_image(sys.argv[1]); predict_in_scope(m, [im]); t = []\n"
            "for _ in range(int(sys.argv[3])):\n s = time.perf_counter(); predict_in_scope(m, [im]);"
            " t.append(time.perf_counter() - s)\n"
            "print(statistics.median(t))")
    out = subprocess.run([sys.executable, "-c", code, image, str(threads), str(repeats * 4)], check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(REPO / "src/chestxai/assets/samples/nih/images/nih_00003847_010.png"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "thread_load.md"))
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    for load in (False, True):
        busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(cores if load else 0)]
        try:
            time.sleep(1.0 if load else 0.0)
            for threads in sorted({1, cores}):
                rows.append((load, threads, time_predict(args.image, threads, args.repeats),
                             in_process(args.image, threads, args.repeats)))
        finally:
            for proc in busy:
                proc.kill()
                proc.wait()
    base = {load: next(r for r in rows if r[0] == load and r[1] == 1) for load in (False, True)}
    idle_one = base[False]
    lines = ["# `chestxai predict` on one image: threads against a competing CPU load", "",
             f"Command: `python benchmarks/thread_load.py --repeats {args.repeats}`; {cores} cores; competing load = "
             f"{cores} busy-looping processes. Median of {args.repeats} fresh `chestxai predict --threads N` "
             f"processes (model loading included) and of {args.repeats * 4} in-process calls (scope check + "
             "probabilities, model loaded once). Note: the machine is shared with other work, so 'idle' is only "
             "as idle as it was.", "",
             "| competing load | threads | predict (process) s | x 1 thread, same load | model call ms | "
             "x 1 thread, same load | x idle, 1 thread |", "|---|---|---|---|---|---|---|"]
    for load, threads, wall, call in rows:
        one = base[load]
        lines.append(f"| {'busy' if load else 'none'} | {threads} | {wall:.2f} | {wall / one[2]:.2f} | "
                     f"{call * 1000:.0f} | {call / one[3]:.2f} | {call / idle_one[3]:.2f} |")
    lines.append("")
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
