import sys

from queueapp.cli import main

sys.exit(main())
