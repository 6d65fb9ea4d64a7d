"""Build script: compiles the Cython order book core and the tracker's frame path with optimisation on."""
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# -O3 by default: measured with callgrind on `hbconnect bench` (40,000 updates), -O2 runs 5.6% more
# instructions in _book (level updates from float arrays 12% slower, from strings 4.5%, the Binance
# frame path 3%) for modules 14% smaller (519 KB against 605 KB); -Os is 27% slower on float
# arrays. HBCONNECT_OPT=-O2 (or -Os) builds the smaller variant where disk matters more than
# speed; benchmarks/bench_wheel_size.py measures the installed size.
_debug = bool(os.environ.get("HBCONNECT_DEBUG"))
if sys.platform == "win32":
    extra_compile_args = ["/O2"]
else:
    _opt = os.environ.get("HBCONNECT_OPT", "-O3")
    if _opt not in ("-O1", "-O2", "-O3", "-Os"):
        sys.exit(f"HBCONNECT_OPT must be one of -O1, -O2, -O3, -Os, got {_opt!r}")
    extra_compile_args = [_opt,
                          # C line numbers in tracebacks: only the Cython line is ever shown
                          "-DCYTHON_CLINE_IN_TRACEBACK=0"]
    if not _debug:
        # no .eh_frame unwind tables: pure C code never unwinds through them (no C++
        # exceptions); debuggers and native profilers want them, so a debug build keeps them
        extra_compile_args += ["-fno-asynchronous-unwind-tables", "-fno-unwind-tables"]
if os.environ.get("HBCONNECT_NATIVE"):  # opt-in: tune for the build machine only
    extra_compile_args.append("-march=native")
# Strip the shared objects at link time (2.9 MB -> 0.5 MB): GNU ld's -s on Linux. Other platforms'
# linkers differ (macOS ld deprecates -s, MSVC has no such flag) and are left alone.
# HBCONNECT_DEBUG=1 keeps the symbols, for a debugger or profiler.
extra_link_args = ["-s"] if sys.platform.startswith("linux") and not _debug else []

extensions = [
    Extension(
        "hbconnect._book",
        ["hbconnect/_book.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=extra_compile_args,
        extra_link_args=extra_link_args,
    ),
    # the tracker's compiled frame path (hbconnect.market.tracker imports it)
    Extension(
        "hbconnect.market._fastpath",
        ["hbconnect/market/_fastpath.pyx"],
        extra_compile_args=extra_compile_args,
        extra_link_args=extra_link_args,
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
        annotate=bool(os.environ.get("HBCONNECT_ANNOTATE")),
    )
)
