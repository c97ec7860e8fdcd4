"""One figure of the speed benchmark: what was measured, its floor, the ratio and the target."""

import os
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """`value` and `floor` share `unit`. `ratio` is value / floor where a floor exists.

    `met` is the verdict against `target` (a sentence such as "<= 1.05x bare" or
    "<= echo + 0.5 ms"), computed by the module that measured it; `detail` holds anything else
    worth keeping in the JSON file (samples, per-variant medians, counts)."""

    name: str
    value: float
    unit: str
    target: str
    met: bool
    floor: float | None = None
    floor_name: str = ""
    load: float = field(default_factory=lambda: os.getloadavg()[0])
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.value / self.floor if self.floor else None

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio}


def median(samples: list[float]) -> float:
    return statistics.median(samples)
