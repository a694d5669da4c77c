"""The HTTP API (``tocsin serve``): a Starlette app over one engine, one incident processor and their stores.

```python
app = tocsin.server.create_app(config, plugins)           # an ASGI app; run it with uvicorn
```

See docs/api.md for every endpoint. Nothing below the server imports it.
"""

from __future__ import annotations

from tocsin.server.app import create_app
from tocsin.server.auth import Principal
from tocsin.server.background import BackgroundServer
from tocsin.server.endpoints import Call, Endpoint, QueryParam, Reply
from tocsin.server.errors import ApiError, ServerError
from tocsin.server.routes import ENDPOINT_GROUPS, all_endpoints
from tocsin.server.service import Service
from tocsin.server.storage import Storage, memory_storage, open_storage, sqlite_storage

__all__ = [
    "ENDPOINT_GROUPS",
    "ApiError",
    "BackgroundServer",
    "Call",
    "Endpoint",
    "Principal",
    "QueryParam",
    "Reply",
    "ServerError",
    "Service",
    "Storage",
    "all_endpoints",
    "create_app",
    "memory_storage",
    "open_storage",
    "sqlite_storage",
]
