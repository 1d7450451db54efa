"""digitlab: the MNIST classification study as software."""

from __future__ import annotations

__version__ = "0.1.0"

from . import datasets  # noqa: E402
from .exceptions import DigitlabError  # noqa: E402
from .models import make_model  # noqa: E402
from .training import train  # noqa: E402

__all__ = ["datasets", "DigitlabError", "make_model", "train", "__version__"]
