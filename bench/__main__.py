"""`make bench`: run every benchmark script in bench/ in turn; each prints its own ratios."""

import runpy
import sys
from pathlib import Path

for script in sorted(Path(__file__).parent.glob("bench_*.py")):
    print(f"== {script.stem}", flush=True)
    runpy.run_path(str(script), run_name="__main__")
sys.exit(0)
