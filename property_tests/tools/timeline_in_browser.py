#!/usr/bin/env python3
"""A failing case's HTML timeline, opened in headless Chromium as a person would open it.

Usage:
  timeline_in_browser.py check   --build BUILD --work DIR
  timeline_in_browser.py picture --build BUILD --work DIR --out property_tests/docs/timeline.png

Both run a real failing case first: the harness's own test that a racy lock (property_tests/
broken) is caught and shrunk (Shrinking.ARacyLockShrinksToAFewOperations), which writes its
report — JSON, text and HTML — into DIR/out.

check    renders that HTML in `chromium --headless` twice and fails unless
         - the DOM Chromium built holds one lane per process of the case (the processes of
           the JSON report), one bar per operation, and exactly one operation marked as the
           one that could not be placed, in the process the JSON names;
         - the screenshot shows them: one band of lane background per process down the
           timeline's right edge, and pixels of the failing operation's red and of the
           linearizable prefix's blue.
         Without Chromium it fails (CI must run it: ./run installs the Debian package
         `chromium`), unless IPCHECK_ALLOW_SKIP is set, when it exits 77 (CTest: skipped).
picture  writes the screenshot to --out (the README's picture) and prints the case's
         reproduce line.
Prints 'N passed, N failed' last (check).
"""
import argparse
import html.parser
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

CASE_TEST = "Shrinking.ARacyLockShrinksToAFewOperations"
CASE_NAME = "Shrinking_RacyLock"
WINDOW = (1280, 720)
STUCK_FILL = (0xF0, 0x80, 0x80)
PREFIX_FILL = (0xCF, 0xE3, 0xFF)
LANE_FILLS = {(0xF3, 0xF3, 0xF3), (0xFA, 0xFA, 0xFA)}
BODY_MARGIN = 16  # the timeline page's CSS margin: the SVG's left edge in the screenshot


def run_failing_case(build: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Runs the racy-lock case; returns the path of its HTML timeline."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ, IPCHECK_PROPTEST_OUT=str(out))
    env.pop("IPCHECK_PROPTEST_REPRODUCE", None)
    env.pop("RC_PARAMS", None)
    ran = subprocess.run([str(build / "bin/harness_finds_bugs_props"), f"--gtest_filter={CASE_TEST}"],
                         env=env, capture_output=True, text=True, timeout=120)
    page = out / f"{CASE_NAME}.html"
    if ran.returncode != 0 or not page.exists():
        sys.exit(f"the failing case did not run as planned (exit {ran.returncode}):\n"
                 f"{ran.stdout[-3000:]}{ran.stderr[-2000:]}")
    return page


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browse(browser: str, page: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on page (file://), with a profile of its own."""
    with tempfile.TemporaryDirectory(prefix="ipcheck-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", *args,
               page.resolve().as_uri()]
        ran = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if ran.returncode != 0:
        sys.exit(f"chromium failed (exit {ran.returncode}): {ran.stderr[-2000:]}")
    return ran


def screenshot(browser: str, page: pathlib.Path, png: pathlib.Path) -> None:
    png.unlink(missing_ok=True)
    browse(browser, page, f"--screenshot={png}")
    if not png.exists():
        sys.exit(f"chromium wrote no screenshot to {png}")


class TimelineDom(html.parser.HTMLParser):
    """The lanes, operations and SVG width of a timeline page's DOM."""

    def __init__(self):
        super().__init__()
        self.lanes: list[int] = []
        self.ops: list[tuple[int, set[str]]] = []
        self.svg_width = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if tag == "svg" and "timeline" in classes:
            self.svg_width = int(float(a["width"]))
        if tag == "g" and "lane" in classes:
            self.lanes.append(int(a["data-process"]))
        if tag == "g" and "op" in classes:
            self.ops.append((int(a["data-process"]), classes))


def read_png(path: pathlib.Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path} is not a PNG")
    at, idat, header = 8, b"", None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in (2, 6) or interlace:
        sys.exit(f"{path}: a PNG this reader does not know (depth {depth}, colour type {color})")
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        previous = line
        rows.append(bytes(b for x in range(width) for b in line[x * channels:x * channels + 3]))
    return width, height, rows


def pixel(rows: list[bytes], x: int, y: int) -> tuple[int, int, int]:
    return tuple(rows[y][3 * x:3 * x + 3])


def count_color(rows: list[bytes], color: tuple[int, int, int]) -> int:
    needle = bytes(color)
    return sum(sum(1 for x in range(0, len(row), 3) if row[x:x + 3] == needle) for row in rows)


def lane_bands(rows: list[bytes], x: int) -> int:
    """Runs of lane background, 10 px or taller, down column x."""
    bands, run = 0, 0
    for y in range(len(rows)):
        if pixel(rows, x, y) in LANE_FILLS:
            run += 1
        else:
            bands += run >= 10
            run = 0
    return bands + (run >= 10)


def check(args) -> int:
    browser = chromium()
    if browser is None:
        if os.environ.get("IPCHECK_ALLOW_SKIP"):
            print("skipped: chromium is not installed (IPCHECK_ALLOW_SKIP is set)")
            return 77
        print("chromium is not installed: `apt-get install chromium` (./run installs it); "
              "set IPCHECK_ALLOW_SKIP=1 to skip this test instead")
        print("0 passed, 1 failed")
        return 1
    page = run_failing_case(args.build, args.work / "out")
    report = json.loads(page.with_suffix(".json").read_text())
    calls = [op for op in report["operations"] if not op["crash"]]
    processes = sorted({op["process"] for op in report["operations"]})
    expected_lanes = list(range(max(processes) + 1))
    stuck = [op["process"] for op in calls if op["stuck"]]

    dom = TimelineDom()
    dom.feed(browse(browser, page, "--dump-dom").stdout)
    png = args.work / "timeline.png"
    screenshot(browser, page, png)
    width, height, rows = read_png(png)

    results = []

    def claim(ok: bool, what: str, detail: str = "") -> None:
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {what}{'' if ok else ': ' + detail}")

    claim(sorted(dom.lanes) == expected_lanes, "one lane per process in the rendered DOM",
          f"lanes {sorted(dom.lanes)}, the case has processes {expected_lanes}")
    claim(len(dom.ops) == len(calls), "one bar per operation",
          f"{len(dom.ops)} bars for {len(calls)} operations")
    dom_stuck = [p for p, classes in dom.ops if "stuck" in classes]
    claim(len(stuck) == 1 and dom_stuck == stuck, "the failing operation is highlighted, in its process",
          f"marked in processes {dom_stuck}, the report says {stuck}")
    claim(any("linearized" in classes for _, classes in dom.ops), "the linearizable prefix is shown",
          "no bar is marked as placed")
    claim((width, height) == WINDOW, "a screenshot of the window's size", f"{width}x{height}")
    edge = min(BODY_MARGIN + dom.svg_width - 8, width - 1)
    bands = lane_bands(rows, edge)
    claim(bands == len(expected_lanes), "the screenshot shows one lane per process",
          f"{bands} lane bands down x={edge}, {len(expected_lanes)} processes")
    red, blue = count_color(rows, STUCK_FILL), count_color(rows, PREFIX_FILL)
    claim(red >= 300, "the failing operation's bar is painted red", f"{red} red pixels")
    claim(blue >= 300, "the linearizable prefix is painted blue", f"{blue} blue pixels")
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def picture(args) -> int:
    browser = chromium()
    if browser is None:
        sys.exit("chromium is not installed: apt-get install chromium")
    page = run_failing_case(args.build, args.work / "out")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    screenshot(browser, page, args.out)
    print(f"wrote {args.out} from {page}")
    print(page.with_suffix(".txt").read_text())
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["check", "picture"])
    parser.add_argument("--build", type=pathlib.Path, required=True)
    parser.add_argument("--work", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.command == "picture":
        if args.out is None:
            parser.error("picture needs --out")
        return picture(args)
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
