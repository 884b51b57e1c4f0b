import sys

from skkd.cli import main

sys.exit(main())
