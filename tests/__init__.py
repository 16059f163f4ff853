"""The test suite.

Hypothesis runs derandomized here (each test draws the same examples every run), so that CI sees exactly
what the last run on a developer's machine saw; set SAM2TUI_FUZZ_RANDOM=1 to explore with fresh seeds, and
turn what it finds into a plain regression test.
"""

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("SAM2TUI_FUZZ_RANDOM") else "repeatable")
