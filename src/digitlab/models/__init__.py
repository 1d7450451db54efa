"""Models: a registry of named scikit-learn Pipelines.

>>> from digitlab.models import make_model
>>> make_model("logreg", {"C": "1"}).named_steps["clf"].C
1.0
"""

from ._registry import (
                        MODELS,
                        ModelSpec,
                        available_models,
                        convert_value,
                        get_spec,
                        make_model,
                        register,
)
from .scaling import PixelScaler

__all__ = ["MODELS", "ModelSpec", "available_models", "get_spec", "make_model",
           "register", "convert_value", "PixelScaler"]
