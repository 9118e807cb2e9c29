"""Small widget classes shared by the views and the output routing."""

from __future__ import annotations

from typing import Any

import ipywidgets


class LateOutput(ipywidgets.Output):
    """Where worker lines go after their cell finished. Its text form is empty, so a notebook's
    stored outputs (compared by nbval) do not depend on whether tasks outlived the cell."""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = ""
        return bundle
