#!/usr/bin/env python3
"""./run bench: runs our benchmarks and the reference figures side by side, prints ratios."""
import sys

print("bench: no benchmark suites built yet", file=sys.stderr)
sys.exit(0)
