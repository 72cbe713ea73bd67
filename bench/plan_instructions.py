"""Figure 4, counted in instructions: what one `plan_customer` costs, whatever the box's load.

Run (valgrind's callgrind counts instructions, so two runs on a busy machine still agree):

    for mode in skip run; do PYTHONHASHSEED=0 valgrind --tool=callgrind \\
        --callgrind-out-file=$mode.out .venv/bin/python bench/plan_instructions.py 1000 $mode; done
    # per customer = (total of run.out - total of skip.out) / 1000 (callgrind_annotate prints
    # each total on its "PROGRAM TOTALS" line)

Both runs build the same customers and plan 2,000 others first (imports, template and phone
metadata warm, as in a long-running process); only `run` then plans the counted ones, so the
difference is their planning and nothing else. Run the command once before counting so neither
counted run writes `.pyc` files; hash order moves a count by a few thousand instructions, so
fix PYTHONHASHSEED (bench/README.md §4 used 0).

After the warm-up the heap is frozen (gc.freeze), as bench/planning.py freezes its fixtures: the
phone cache is still filling at this point (a long-running process's is full, and its entries
replace each other), so the heap grows by ~800 objects per 1,000 customers, and whether one full
collection of the ~40,000 objects (about 22,000 instructions per counted customer) falls inside
the counted window or just after it would otherwise decide a fifth of the figure.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planning import batch

from core.mapping import load_template
from core.plan import PlanSettings, plan_customer


def main(count: int, mode: str) -> None:
    template, settings = load_template(), PlanSettings()
    for facts in batch(2000, seed=7)[1]:
        plan_customer(facts, template, settings)
    counted = batch(count, seed=8)
    gc.collect()
    gc.freeze()
    if mode == "run":
        for facts in counted[1]:
            plan_customer(facts, template, settings)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("run", "skip") or not sys.argv[1].isdigit():
        sys.exit("usage: plan_instructions.py COUNT run|skip")
    main(int(sys.argv[1]), sys.argv[2])
