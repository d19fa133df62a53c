"""FastAPI routers and request/response models; the logic lives in `cartwise.jobs`."""

from cartwise.api.app import create_app

__all__ = ["create_app"]
