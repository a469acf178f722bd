"""`python -m bot`: the same as the `crewbot` command."""

import sys

from bot.cli import main

sys.exit(main())
