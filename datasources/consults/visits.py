"""The patient's offline visits, as 复诊续方 eligibility needs them, read through the HIS port.

`VisitHistory` is all the consult orders need; `PortVisits` answers it from any `HisPort` adapter
(its `record(...)` encounters), within a deadline. `HisUnavailable` passes through: an order is
then refused as "cannot check now", never accepted unchecked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from datasources.his.port import HisPort
from datasources.his.resilience import Deadline
from domain.consults import Visit


class VisitHistory(Protocol):
    async def visits(self, his_patient_id: str) -> Sequence[Visit]:
        """Every visit the HIS holds for the patient; raises HisUnavailable when it cannot answer."""
        ...


class PortVisits:
    def __init__(self, port: HisPort, *, deadline_seconds: float = 2.0) -> None:
        self._port = port
        self._deadline_seconds = deadline_seconds

    async def visits(self, his_patient_id: str) -> Sequence[Visit]:
        record = await self._port.record(his_patient_id, deadline=Deadline.after(self._deadline_seconds))
        return [
            Visit(
                kind=encounter.started_as,
                department=encounter.department,
                started_at=encounter.period.start,
                status=encounter.status,
            )
            for encounter in record.encounters
        ]
