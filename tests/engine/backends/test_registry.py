"""engine.backends.registry: backends register themselves by name; `auto` order is their priority."""
import pytest

from engine.backends import BACKENDS, Backend, BackendUnavailable, Probe, auto_order, register_backend, select_backend
from engine.backends.ort_cpu_backend import OrtCpuBackend


def test_every_backend_is_registered_and_auto_order_is_priority():
    assert set(BACKENDS) == {"trt", "ort-cuda", "torch-cuda", "ort-cpu"}
    assert auto_order() == ("trt", "ort-cuda", "torch-cuda", "ort-cpu")
    prios = [BACKENDS[n].priority for n in auto_order()]
    assert prios == sorted(prios, reverse=True) and len(set(prios)) == len(prios)


def test_register_backend_adds_a_peer_that_auto_can_pick(monkeypatch):
    monkeypatch.setattr("engine.backends.registry.BACKENDS", dict(BACKENDS))

    @register_backend
    class Fast(Backend):
        name, priority = "fast-test", 1000

        @classmethod
        def probe(cls):
            return Probe(True, "always")

        def load(self, onnx_path):
            raise NotImplementedError

    backend, why = select_backend("auto")
    assert isinstance(backend, Fast) and why.startswith("auto: fast-test")
    assert auto_order()[0] == "fast-test"
    with pytest.raises(ValueError, match="is taken by"):
        register_backend(type("Other", (Fast,), {}))


def test_select_backend_errors_are_one_line():
    with pytest.raises(ValueError, match="unknown backend 'nope'; choose one of: auto, trt, ort-cuda"):
        select_backend("nope")
    assert isinstance(select_backend("ort-cpu")[0], OrtCpuBackend)
    for name in ("trt", "ort-cuda", "torch-cuda"):
        if not BACKENDS[name].probe().ok:
            with pytest.raises(BackendUnavailable, match=f"backend '{name}' cannot run here"):
                select_backend(name)
