"""Per-case memory scopes of kypho.batch.memory, in a child interpreter (RLIMIT_AS is
process-wide: capping the test process itself could starve pytest's own threads)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent('''
    import resource
    import numpy as np
    from kypho.batch import memory

    GB = 1024**3
    original = resource.getrlimit(resource.RLIMIT_AS)
    with memory.address_space_cap(0.1):
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        base = memory._before["base"]
        assert soft == base + int(0.1 * GB), (soft, base)
        with memory.address_space_cap(0.2):  # a second case in the same process adds its cap
            assert resource.getrlimit(resource.RLIMIT_AS)[0] == base + int(0.1 * GB) + int(0.2 * GB)
        assert resource.getrlimit(resource.RLIMIT_AS)[0] == soft
        try:
            np.ones(int(0.3 * GB), dtype=np.uint8)
        except MemoryError:
            pass
        else:
            raise AssertionError("0.3 GB allocated under a 0.1 GB cap")
    assert resource.getrlimit(resource.RLIMIT_AS) == original
    np.ones(int(0.3 * GB), dtype=np.uint8)  # the cap is gone with the case
    with memory.case_heap(), memory.case_heap():  # nested: restored once, at the end
        a = np.ones(8 * 1024 * 1024)
        del a
    assert memory._in_heap_policy == []
    print("ok")
''')


def test_address_space_cap_is_scoped_to_the_case_and_adds_up() -> None:
    run = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
