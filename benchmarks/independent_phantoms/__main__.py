"""Command line: ``python benchmarks/independent_phantoms --seed 1 --n 6 --out DIR``.

Also runs as ``python -m independent_phantoms`` when ``benchmarks/`` is on the path.
"""

import sys
from pathlib import Path

if __package__:
    from . import main
else:
    # Run as a folder, Python put the package folder itself on sys.path, where its modules
    # would be importable as top-level names and relative imports fail; import the package
    # from its parent folder instead.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))
    from independent_phantoms import main

if __name__ == "__main__":
    main()
