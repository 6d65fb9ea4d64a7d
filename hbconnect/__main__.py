import sys

from hbconnect.cli import main

sys.exit(main())
