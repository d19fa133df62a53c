"""FastAPI routers and request/response models; the logic lives in `cartwise.pipelines`, `cartwise.service` and `cartwise.pages`."""

from cartwise.api.app import create_app

__all__ = ["create_app"]
