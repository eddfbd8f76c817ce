"""Prints what a PNG screenshot shows, as JSON: its size, the share of pixels that are not the
page background (near-white), and how many distinct colours it has (pypng, not patchplane)."""
import json
import sys

import png

width, height, rows, _ = png.Reader(filename=sys.argv[1]).asRGBA8()
inked = 0
colours = set()
for row in rows:
    for i in range(0, len(row), 4):
        r, g, b = row[i], row[i + 1], row[i + 2]
        colours.add((r >> 3, g >> 3, b >> 3))
        if r < 235 or g < 235 or b < 235:
            inked += 1
json.dump({"width": width, "height": height, "inked": inked / (width * height), "colours": len(colours)}, sys.stdout)
