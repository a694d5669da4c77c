"""The web console (``/ui/``): incidents, on-call, schedules and policies in the browser, served by the same
app as the API, with pages rendered on the server (Jinja2) and a few lines of script that refresh the parts
that change.

```python
from tocsin.server.console import Console
routes = Console(service).routes()        # create_app mounts them beside the API's
```

Signing in takes an API token (its scope applies: a read token sees everything and can act on nothing), or a
page's link (its recipient acts with the respond scope until the link expires), and gives a signed session
cookie; every form carries a CSRF token. Every action calls the
:class:`~tocsin.server.service.Service` method the API endpoint calls. See docs/ui.md.
"""

from __future__ import annotations

from tocsin.server.console.pages import Console
from tocsin.server.console.session import Session, Sessions, session_key

__all__ = ["Console", "Session", "Sessions", "session_key"]
