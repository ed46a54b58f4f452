"""Every CPU kernel picks its implementation the same way (kernels/cpu_method.py): $ENV_VAR when set, else
"numba" when its compiled module imports, else "numpy"; a bad value is one clear error."""
import pytest

from kernels import deblur, dibr, render_layers

KERNELS = [(dibr, "DPLF_DIBR", "dibr_numba"), (render_layers, "DPLF_RENDER_LAYERS", "render_layers_numba"),
           (deblur, "DPLF_DEBLUR", "deblur_numba")]


@pytest.mark.parametrize("module, env, compiled", KERNELS, ids=[k[1] for k in KERNELS])
def test_default_method_follows_the_environment_and_numba(monkeypatch, module, env, compiled):
    monkeypatch.delenv(env, raising=False)
    assert module.default_method() == ("numba" if getattr(module, compiled) is not None else "numpy")
    monkeypatch.setenv(env, " NumPy ")
    assert module.default_method() == "numpy"
    monkeypatch.setenv(env, "cuda")
    with pytest.raises(ValueError, match=f"{env} must be one of"):
        module.default_method()
    monkeypatch.delenv(env)
    monkeypatch.setattr(module, compiled, None)
    assert module.default_method() == "numpy"
    module.warm_up()   # nothing to compile without numba
