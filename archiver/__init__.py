"""archiver: preserve the images, media, sources and related articles that documents cite."""

import sys

__version__ = "0.1.0"

# httpx imports its own command-line client on import (and with it rich's console, pygments
# and click's machinery), a sixth of archiver's start-up; archiver never runs it. A None entry
# makes that import fail, which httpx expects and answers with a stub `httpx.main`.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
