"""Load test of the live service: N concurrent clients against ``POST /api/v1/analyze`` on localhost.

Starts ``chestxai serve`` in its own process on a free port, sends the same radiograph from 1, 8, 32 concurrent
clients (each sends its next request when the previous answer arrives), and reports throughput and p50/p99 latency
next to the bare in-process ``Analyzer.analyze`` time of the same image, measured in the same run with the same
model, catalogue, methods and torch threads. The ratios are the service's overhead: HTTP, multipart, JSON, the
thread hand-off and queueing (the server runs one analysis at a time: the model is shared, torch uses the cores).
Any failed request makes the script exit non-zero.

    python benchmarks/service_load.py --requests 24 --out benchmarks/results/service_load.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "images" / "nih_00005927_006.png"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="checkpoint or shipped name (default: the shipped default model)")
    p.add_argument("--catalogue", help="case catalogue (default: the shipped model's sample catalogue)")
    p.add_argument("--image", default=str(DEFAULT_IMAGE))
    p.add_argument("--clients", default="1,8,32", help="comma list of concurrency levels")
    p.add_argument("--requests", type=int, default=24, help="requests per level (at least 2 per client)")
    p.add_argument("--methods", default="gradcam,gradcampp,gradient_x_input", help="as the page asks")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--bare-repeats", type=int, default=8)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads, both sides (1: the default suits a shared machine; more oversubscribe it)")
    p.add_argument("--out", help="write the Markdown report here too")
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resolve(args: argparse.Namespace):
    """The model and catalogue both sides use (the sample catalogue is built now if missing)."""
    from chestxai import load_model
    from chestxai.service.app import sample_catalogue

    catalogue = Path(args.catalogue) if args.catalogue else sample_catalogue(args.model, print)
    return load_model(args.model), catalogue


def bare_times(analyzer, data: bytes, args: argparse.Namespace, repeats: int) -> list[float]:
    """Milliseconds of ``Analyzer.analyze`` in this process (after one warm-up call)."""
    analyzer.analyze(data, args.methods, args.k)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        analyzer.analyze(data, args.methods, args.k)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def start_server(args: argparse.Namespace, catalogue: Path | None, port: int, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "chestxai", "serve", "--port", str(port)]
    command += ["--model", args.model] if args.model else []
    command += ["--catalogue", str(catalogue)] if catalogue else []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    return subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=REPO)


def wait_ready(url: str, server: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not answer /api/v1/health in time")


async def one_level(url: str, data: bytes, name: str, clients: int, total: int, args, expected_similar: int
                    ) -> dict:
    """``clients`` concurrent senders share ``total`` requests; latency of each, failures counted."""
    latencies: list[float] = []
    failures: list[str] = []
    remaining = [total]
    form = {"methods": args.methods, "k": str(args.k)}

    async def sender(client: httpx.AsyncClient) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            start = time.perf_counter()
            try:
                response = await client.post(f"{url}/api/v1/analyze", files={"file": (name, data)}, data=form)
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                elif len(response.json()["similar"]) < expected_similar:
                    failures.append("fewer similar cases than asked for")
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            latencies.append((time.perf_counter() - start) * 1000.0)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=900, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(clients)))
        wall = time.perf_counter() - start
    return {"clients": clients, "requests": total, "failed": len(failures), "errors": failures[:3],
            "throughput": total / wall, "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99))}


def catalogue_size(catalogue: Path | None) -> int:
    from chestxai.retrieval.catalogue import Catalogue

    if catalogue is None:
        return 0
    with Catalogue(catalogue, create=False) as cat:
        return len(cat)


def report(args, model, catalogue, bare: list[float], levels: list[dict], argv: list[str]) -> str:
    from chestxai import __version__

    bare_ms = statistics.median(bare)
    cases = catalogue_size(catalogue)
    name = getattr(model, "checkpoint_meta", {}).get("shipped_name") or args.model
    lines = [
        "# Service load: POST /api/v1/analyze on localhost",
        "",
        f"Command: `{shlex.join(['python', 'benchmarks/service_load.py', *argv])}`  ",
        f"chestxai {__version__}, torch {torch.__version__}, {args.threads} torch threads (server and in-process), "
        f"{os.cpu_count()} CPU cores ({platform.machine()}); model {name} "
        f"({model.arch}, {model.preprocess.image_size} px), catalogue of {cases} cases; image "
        f"`{Path(args.image).name}`; methods `{args.methods}`, k = {args.k}.  ",
        "The server (`chestxai serve`, its own process) runs one analysis at a time; each client sends its next "
        "request when the previous answer arrives.",
        "",
        f"Bare in-process `Analyzer.analyze` (decode, predict, {len(args.methods.split(','))} maps with boxes, "
        f"search), "
        f"median of {len(bare)} (half before, half after the load): **{bare_ms:.0f} ms** (min {min(bare):.0f}, "
        f"max {max(bare):.0f}); ideal serial throughput {1000.0 / bare_ms:.2f} req/s.",
        "",
        "| clients | requests | failed | throughput req/s | p50 ms | p99 ms | p50 / bare | throughput / ideal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for lv in levels:
        lines.append(f"| {lv['clients']} | {lv['requests']} | {lv['failed']} | {lv['throughput']:.2f} | "
                     f"{lv['p50']:.0f} | {lv['p99']:.0f} | {lv['p50'] / bare_ms:.2f}x | "
                     f"{lv['throughput'] * bare_ms / 1000.0:.2f} |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", "p50 / bare at 1 client is the per-request overhead of the service; with N clients the latency "
              "grows about N-fold because analyses queue for the one model (throughput / ideal near 1 means the "
              "queueing costs nothing beyond that). Both sides ran in the same minutes on the same machine, which "
              f"was shared with other jobs (load average {load} at the end on {os.cpu_count()} cores): absolute "
              "times drift between runs and ratios within about +-15% are noise.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(args.image).read_bytes()
    model, catalogue = resolve(args)
    from chestxai.service.analysis import Analyzer

    analyzer = Analyzer(model, catalogue)  # bare times before and after the load: the machine may drift
    bare = bare_times(analyzer, data, args, (args.bare_repeats + 1) // 2)
    expected = min(args.k, catalogue_size(catalogue))
    print(f"bare analyze: median {statistics.median(bare):.0f} ms over {len(bare)}", file=sys.stderr)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        server = start_server(args, catalogue, port, log)
        try:
            wait_ready(url, server)
            asyncio.run(one_level(url, data, Path(args.image).name, 1, 2, args, expected))  # warm-up
            levels = []
            for clients in (int(c) for c in args.clients.split(",") if c.strip()):
                level = asyncio.run(one_level(url, data, Path(args.image).name, clients,
                                              max(args.requests, 2 * clients), args, expected))
                print(f"{clients} clients: {level['throughput']:.2f} req/s, p50 {level['p50']:.0f} ms, "
                      f"p99 {level['p99']:.0f} ms, failed {level['failed']}", file=sys.stderr)
                levels.append(level)
        except BaseException:
            log.seek(0)
            print(log.read().decode(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)
    after = bare_times(analyzer, data, args, args.bare_repeats // 2)
    analyzer.close()
    print(f"bare analyze after the load: median {statistics.median(after):.0f} ms", file=sys.stderr)
    text = report(args, model, catalogue, bare + after, levels, argv)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    failed = sum(lv["failed"] for lv in levels)
    for lv in levels:
        for error in lv["errors"]:
            print(f"failed request ({lv['clients']} clients): {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
