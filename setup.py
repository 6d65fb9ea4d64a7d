"""Build script: compiles the Cython order book core and the tracker's frame path with optimisation on."""
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

extra_compile_args = ["-O3"] if sys.platform != "win32" else ["/O2"]
if os.environ.get("HBCONNECT_NATIVE"):  # opt-in: tune for the build machine only
    extra_compile_args.append("-march=native")
# Strip the shared objects at link time (2.9 MB -> 0.5 MB): GNU ld's -s on Linux. Other platforms'
# linkers differ (macOS ld deprecates -s, MSVC has no such flag) and are left alone.
# HBCONNECT_DEBUG=1 keeps the symbols, for a debugger or profiler.
extra_link_args = ["-s"] if sys.platform.startswith("linux") and not os.environ.get("HBCONNECT_DEBUG") else []

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
