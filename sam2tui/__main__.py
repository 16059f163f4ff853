import sys

from sam2tui.cli import main

sys.exit(main())
