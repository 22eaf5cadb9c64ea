"""The JSON response every route answers with."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from lgp_lab.jsonable import json_bytes

__all__ = ["SafeJSONResponse"]


class SafeJSONResponse(JSONResponse):
    """JSON that never fails to encode: text a node produced with lone surrogates is
    sent escaped (``\\ud800``) instead of turning a finished run into a 500."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content, compact=True)
