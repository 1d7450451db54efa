"""digitlab: the MNIST classification study as software."""

from __future__ import annotations

__version__ = "0.1.0"

from . import datasets  # noqa: E402
from .exceptions import DigitlabError  # noqa: E402

__all__ = ["datasets", "DigitlabError", "__version__"]
