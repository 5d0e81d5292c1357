"""Where a run's components came from: each distribution (gesbench itself or a plugin) with its
version and the problems and optimizers it provided, read from the run's stored meta
(``components``: what ``gesbench.core.registry.Registry.describe`` gave when the run started,
``origin`` included), so a report names the plugin versions without the plugins installed."""

from __future__ import annotations

from typing import Any

import pandas as pd

ORIGIN_COLUMNS = ["distribution", "version", "problems", "optimizers"]
IN_PROCESS = "(registered in the running process)"
UNKNOWN = "(not recorded)"


def component_origins(meta: dict[str, Any]) -> pd.DataFrame:
    """One row per distribution that provided a component of the run: its name (gesbench
    marked built-in; components registered in the running process, or whose origin an older
    store did not record, apart), version, and the problems and optimizers it provided.
    Plugins first, then gesbench's built-ins; empty without stored components."""
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    for kind in ("problems", "optimizers"):
        for name, info in sorted(meta.get("components", {}).get(kind, {}).items()):
            origin = info.get("origin") if isinstance(info, dict) else None
            if not isinstance(origin, dict):
                key = (UNKNOWN, "")
            elif origin.get("distribution") is None:
                key = (IN_PROCESS, "")
            else:
                builtin = " (built-in)" if origin.get("builtin") else ""
                key = (f"{origin['distribution']}{builtin}", str(origin.get("version") or ""))
            groups.setdefault(key, {"problems": [], "optimizers": []})[kind].append(name)
    rows = [
        {
            "distribution": distribution,
            "version": version,
            "problems": ", ".join(names["problems"]),
            "optimizers": ", ".join(names["optimizers"]),
        }
        for (distribution, version), names in groups.items()
    ]
    frame = pd.DataFrame(rows, columns=ORIGIN_COLUMNS)
    is_builtin = frame["distribution"].str.endswith("(built-in)")
    apart = frame["distribution"].isin([IN_PROCESS, UNKNOWN])
    order = is_builtin.astype(int) * 2 + apart.astype(int)
    return (
        frame.assign(_order=order)
        .sort_values(["_order", "distribution"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
