"""Build script: compiles the Cython order book core and the tracker's frame path with optimisation on."""
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# Optimisation per module, chosen by measurement (callgrind and thread-CPU timings of `hbconnect
# bench`, 2026-12-07/08): the book core keeps -O3 (-O2 runs its string-pair level updates about
# 10% slower and 5.6% more instructions overall, for a module 41 KB smaller); the frame path is
# built with -O2 (the Binance frame path measured the same at -O2 and -O3, and the module is 37 KB
# smaller). -Os is 20-27% slower on both and is never the default. HBCONNECT_OPT=-O2 (or -Os, -O3)
# builds both modules at that level; benchmarks/bench_wheel_size.py measures the installed size.
_debug = bool(os.environ.get("HBCONNECT_DEBUG"))
_opt_env = os.environ.get("HBCONNECT_OPT")
if _opt_env is not None and _opt_env not in ("-O1", "-O2", "-O3", "-Os"):
    sys.exit(f"HBCONNECT_OPT must be one of -O1, -O2, -O3, -Os, got {_opt_env!r}")


def compile_args(default_opt: str) -> list:
    """The compiler flags of one extension, at ``default_opt`` unless HBCONNECT_OPT says otherwise."""
    if sys.platform == "win32":
        return ["/O2"]
    args = [_opt_env or default_opt,
            # C line numbers in tracebacks: only the Cython line is ever shown
            "-DCYTHON_CLINE_IN_TRACEBACK=0"]
    if not _debug:
        # no .eh_frame unwind tables: pure C code never unwinds through them (no C++
        # exceptions); debuggers and native profilers want them, so a debug build keeps them
        args += ["-fno-asynchronous-unwind-tables", "-fno-unwind-tables"]
    if os.environ.get("HBCONNECT_NATIVE"):  # opt-in: tune for the build machine only
        args.append("-march=native")
    return args


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
        extra_compile_args=compile_args("-O3"),
        extra_link_args=extra_link_args,
    ),
    # the tracker's compiled frame path (hbconnect.market.tracker imports it)
    Extension(
        "hbconnect.market._fastpath",
        ["hbconnect/market/_fastpath.pyx"],
        extra_compile_args=compile_args("-O2"),
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
            # plain C methods and functions instead of Cython's function objects: 57 KB less code
            # in the two modules and a cheaper call from Python (e.g. OrderBook.get_price 39 ns
            # against 43-50); nothing in hbconnect introspects or rebinds these functions
            "binding": False,
        },
        annotate=bool(os.environ.get("HBCONNECT_ANNOTATE")),
    )
)
