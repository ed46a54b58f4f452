"""Compatibility names for code written before models/architectures/: the registry API and the classes.
New code imports models.architectures (build, model_card, ...) or the architecture modules directly."""
from models.architectures import (STRIDE, VERSION, build, count_parameters, default_model,  # noqa: F401
                                  get_spec, list_models, model_card)
from models.architectures.dp_disparity_v1 import DPDefocusNet  # noqa: F401
from models.architectures.dp_learned_cv_v0 import DPDisparityNet  # noqa: F401
from models.architectures.lf_layers_v1 import LFLayersExport, LFLayersNet  # noqa: F401
from models.blocks import SmallUNet  # noqa: F401


class _Specs:
    """Read-only `MODELS[name]` view ({"factory", "inputs", "outputs", "card"}) over the registry."""

    def __getitem__(self, name: str) -> dict:
        s = get_spec(name)
        return {"factory": s.factory, "inputs": list(s.inputs), "outputs": list(s.outputs), "card": s.card}

    def __contains__(self, name) -> bool:
        return name in list_models()

    def __iter__(self):
        return iter(list_models())


MODELS = _Specs()
