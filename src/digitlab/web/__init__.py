"""The draw-a-digit web app: ``create_app`` builds the FastAPI application ``digitlab serve`` runs.

Needs the ``web`` extra: ``pip install 'digitlab[web]'``.
"""

from .app import create_app

__all__ = ["create_app"]
