"""A serving process freezes what start-up made and collects young objects less often, and cyclic garbage made
afterwards is still collected without anyone asking. Run in a child interpreter: the collector is process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_CHILD = textwrap.dedent(
    """
    import gc, weakref
    from trellis_common import heap

    class Node:
        pass

    made_at_start = [Node() for _ in range(1000)]
    heap.settle_after_start()
    assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD

    cycle = Node()
    cycle.me = cycle
    alive = weakref.ref(cycle)
    del cycle
    # Allocations alone must trigger the collection (the collector counts objects made and not yet freed).
    kept = [[] for _ in range(3 * heap.YOUNG_THRESHOLD)]
    assert alive() is None, "a cycle made after start-up was never collected"
    print("ok")
    """
)


def test_start_up_objects_are_frozen_and_later_cycles_still_collected() -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
