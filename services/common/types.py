"""Names for the shapes the services pass around (type hints only, no behaviour)."""

from typing import Any, TypeAlias

# A MongoDB document as pymongo hands it back, an event payload, an RPC answer:
# plain JSON-like dicts keyed by field name.
Doc: TypeAlias = dict[str, Any]
