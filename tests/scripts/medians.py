"""Prints the median of every criterion benchmark under the directory given (its estimates.json)."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
for est in sorted(root.glob("**/new/estimates.json")):
    bench = json.loads((est.parent / "benchmark.json").read_text())["full_id"]
    median_ns = json.loads(est.read_text())["median"]["point_estimate"]
    print(f"median {median_ns / 1e6:9.3f} ms  {bench}")
