"""Write the API's OpenAPI spec to docs/openapi.json: ``python -m api.openapi [PATH]``.

The spec does not depend on the read model or the keys, so it is generated from an app
over placeholders. tests/api/test_contract.py checks the committed file is current.

May import: api, stdlib.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from api.app import create_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def spec_text() -> str:
    """The spec as committed: indented, keys sorted, one trailing newline."""
    app = create_app(Path("unused.duckdb"), ["unused-key"], lambda kind, value: "")
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> None:
    target = Path(argv[0]) if argv else DOC
    target.write_text(spec_text())
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
