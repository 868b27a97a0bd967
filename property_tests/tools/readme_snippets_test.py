#!/usr/bin/env python3
"""property_tests/README.md cannot drift from the example it quotes.

Usage: readme_snippets_test.py README EXAMPLE
Every ```cpp block of README must appear, verbatim, in EXAMPLE (the example is built and run
as a test, so the README's code is code that compiles and passes).
Prints one line per block, then 'N passed, N failed'.
"""
import pathlib
import re
import sys


def main() -> int:
    readme, example = (pathlib.Path(arg).read_text() for arg in sys.argv[1:3])
    blocks = re.findall(r"^```cpp\n(.*?)^```", readme, re.M | re.S)
    failed = 0
    for block in blocks:
        first = block.strip().splitlines()[0]
        if block in example:
            print(f"ok   {first}")
        else:
            failed += 1
            print(f"FAIL {first}: not in {sys.argv[2]} as written")
    if not blocks:
        failed += 1
        print("FAIL the README quotes no code")
    print(f"{len(blocks) - failed if blocks else 0} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
