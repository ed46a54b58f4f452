"""The Ray part of `dplf batch`: connect (or start a small local Ray), and run the inputs through Ray Data with one
`BatchWorker` actor per worker. The only module of dplf that imports Ray; it is imported only when a batch runs
(engine/batch/batch.py checks first that Ray is installed)."""
from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Iterator

import ray
import ray.data

from .worker import BatchWorker

LOCAL_OBJECT_STORE = 128 * 2 ** 20   # inputs and results are small rows of paths and numbers
END = object()


def connect(address: str | None, workers: int | None) -> bool:
    """Join the cluster at `address`, or start a local Ray sized for this machine (no dashboard, a small object
    store, quiet logs). An already initialised Ray (a test's, a notebook's) is used as it is. True if this call
    started Ray (the caller shuts it down)."""
    if ray.is_initialized():
        return False
    if address:
        check_reachable(address)
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(address="local", num_cpus=max(os.cpu_count() or 1, workers or 1), include_dashboard=False,
                 log_to_driver=False, object_store_memory=LOCAL_OBJECT_STORE, logging_level=logging.WARNING)
    return True


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """ConnectionError now when nothing answers at a HOST:PORT (or ray://HOST:PORT) address, instead of after Ray's
    own connection retries (minutes). Other forms ("auto") are left to Ray."""
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not (host and sep and port.isdigit()):
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {host}:{port} ({exc.strerror or type(exc).__name__})") from None


def shutdown() -> None:
    ray.shutdown()


def resources() -> tuple[float, float]:
    """(CPUs, GPUs) of the cluster."""
    res = ray.cluster_resources()
    return float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0))


def worker_layout(workers: int | None, inputs: int, backend: str = "auto") -> dict:
    """How many actors (never more than inputs) and what each one asks for: one GPU each when the cluster has
    GPUs and the backend may use one (default: one actor per GPU), otherwise CPU actors (default: one per two
    CPUs), each with an equal share of the CPUs for inference threads."""
    cpus, gpus = resources()
    if gpus >= 1 and backend != "ort-cpu":
        n = min(workers or int(gpus), inputs)
        return {"workers": n, "num_gpus": 1, "num_cpus": 1, "threads": None}
    n = min(workers or max(1, int(cpus) // 2), inputs)
    share = max(1, int(cpus) // n)
    return {"workers": n, "num_gpus": 0, "num_cpus": 1, "threads": share}


def run_inputs(rows: list[dict], options: dict, layout: dict, tick_s: float = 0.5) -> Iterator[dict | None]:
    """Result rows (engine/batch/worker.py FIELDS) as each input finishes, and None every `tick_s` seconds
    without one (the caller updates its progress then). The dataset runs on a background thread; an error of Ray
    itself (an actor that died) is raised here."""
    logging.getLogger("ray.data").setLevel(logging.ERROR)   # dplf batch draws its own bars and summary
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_auto_log_stats = False
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    ds = ds.map_batches(BatchWorker, batch_size=1, fn_constructor_kwargs={"options": options,
                                                                          "threads": layout["threads"]},
                        compute=ray.data.ActorPoolStrategy(size=layout["workers"], max_tasks_in_flight_per_actor=1),
                        num_cpus=layout["num_cpus"], num_gpus=layout["num_gpus"], max_restarts=0)
    results: queue.Queue = queue.Queue()
    thread = threading.Thread(target=_drain, args=(ds, results), name="dplf-batch-results", daemon=True)
    thread.start()
    while True:
        try:
            item = results.get(timeout=tick_s)
        except queue.Empty:
            yield None
            continue
        if item is END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _drain(ds, results: queue.Queue) -> None:
    try:
        for row in ds.iter_rows():
            results.put(dict(row))
    except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread, which raises it
        results.put(exc)
    results.put(END)
