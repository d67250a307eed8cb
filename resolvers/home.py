"""The homepage query."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.enums import LayoutVariant
from schema.home import Homepage


async def homepage(
    variant: Annotated[
        LayoutVariant,
        strawberry.argument(description="STANDARD, or ELDER for the 长辈版 (larger type, fewer modules)."),
    ] = LayoutVariant.STANDARD,
) -> Homepage:
    # The modules resolve lazily through loaders, so a client pays only for what it asks.
    return Homepage(variant=variant)
