"""The student architectures, one module per registered model; importing this package registers them all.

    from models.architectures import build, model_card, list_models, default_model
"""
from models.architectures import dp_disparity_v1, dp_disparity_v2, dp_learned_cv_v0, lf_layers_v1  # noqa: F401
from models.registry import (  # noqa: F401
                             STRIDE,
                             VERSION,
                             build,
                             count_parameters,
                             default_model,
                             get_spec,
                             list_models,
                             model_card,
                             tasks,
)
