"""``python -m trellis.manifests [DIR]``: write the generated manifests under ``deploy/k8s`` (or ``DIR``)."""

from __future__ import annotations

import sys
from pathlib import Path

from trellis.manifests.layout import K8S, render


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else K8S
    for relative, content in render().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    print(f"wrote {len(render())} files under {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
