"""Serving: the forecast API (FastAPI), its auth, capture, metrics and web page.

``create_app(settings)`` is the only entry point; nothing is built at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gpcast.config import Settings


def create_app(settings: Settings, **kwargs: Any) -> FastAPI:
    from gpcast.serving.app import create_app as _create_app

    return _create_app(settings, **kwargs)


__all__ = ["create_app"]
