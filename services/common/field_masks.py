"""Field mask paths as the services compare them: the proto field names, in snake_case.

A mask parsed from JSON by json_format or a transcoding proxy arrives in snake_case already
(`"updateMask": "content.textBody"` becomes `content.text_body`), but a caller building the
mask by hand, or a proxy that copies a query parameter into `paths` as written, may send the
JSON spelling `content.textBody`; both name the same field, so both are read alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_UPPER = re.compile(r"[A-Z]")


def snake_case_paths(paths: Iterable[str]) -> list[str]:
    """Each path with its lowerCamelCase segments in the proto's snake_case."""
    return [_UPPER.sub(lambda m: "_" + m.group().lower(), path) for path in paths]
