"""The installed size of hbconnect's wheel, against the 2 MB target (issue 7).

Builds the wheel from this checkout (``pip wheel --no-deps``) or reads one given with ``--wheel``,
and reports:

* the wheel file itself (compressed);
* the installed files: every file the wheel puts in site-packages, ``dist-info`` included; this
  is the figure the target is about (2,000,000 bytes, decimal megabytes);
* the same with the ``.pyc`` files pip compiles at install time (bytecode caches Python would
  otherwise write on first import), for information;
* the largest files and the size per subpackage, so a regression is easy to place.

Run from the repository root::

    python benchmarks/bench_wheel_size.py            # build, then measure
    python benchmarks/bench_wheel_size.py --wheel dist/hbconnect-*.whl
    python benchmarks/bench_wheel_size.py --json

Exit status 1 when the installed files are over the target, so CI or a release script can use it.
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import py_compile
import subprocess
import sys
import tempfile
import zipfile

TARGET_BYTES = 2_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_wheel(out_dir: str) -> str:
    """Build this checkout's wheel into ``out_dir`` and return its path."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out_dir, ROOT],
                   check=True)
    (path,) = glob.glob(os.path.join(out_dir, "hbconnect-*.whl"))
    return path


def pyc_bytes(zf: zipfile.ZipFile) -> int:
    """Bytes of the ``.pyc`` files pip would write for the wheel's ``.py`` files."""
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for info in zf.infolist():
            if not info.filename.endswith(".py"):
                continue
            src = os.path.join(tmp, info.filename)
            os.makedirs(os.path.dirname(src), exist_ok=True)
            with open(src, "wb") as fh:
                fh.write(zf.read(info))
            total += os.path.getsize(py_compile.compile(src, cfile=src + "c", doraise=True))
    return total


def measure(wheel: str) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        installed = sum(i.file_size for i in infos)
        groups: collections.Counter = collections.Counter()
        for i in infos:
            parts = i.filename.split("/")
            groups["/".join(parts[:2]) if len(parts) > 2 else parts[0]] += i.file_size
        largest = sorted(infos, key=lambda i: -i.file_size)[:12]
        pyc = pyc_bytes(zf)
    return {
        "wheel": os.path.basename(wheel),
        "wheel_bytes": os.path.getsize(wheel),
        "installed_bytes": installed,
        "installed_with_pyc_bytes": installed + pyc,
        "target_bytes": TARGET_BYTES,
        "met": installed < TARGET_BYTES,
        "by_package": dict(groups.most_common()),
        "largest": [(i.filename, i.file_size) for i in largest],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", help="measure this wheel instead of building one")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or build_wheel(tmp)
        r = measure(wheel)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"{r['wheel']}: wheel {r['wheel_bytes']:,} B; installed files {r['installed_bytes']:,} B "
              f"(target < {TARGET_BYTES:,}: {'met' if r['met'] else 'NOT met'}); "
              f"with pip's .pyc {r['installed_with_pyc_bytes']:,} B")
        print("by subpackage:")
        for name, size in r["by_package"].items():
            print(f"  {size:>10,}  {name}")
        print("largest files:")
        for name, size in r["largest"]:
            print(f"  {size:>10,}  {name}")
    return 0 if r["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
