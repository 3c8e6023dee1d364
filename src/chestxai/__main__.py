"""``python -m chestxai`` (also what ``torchrun -m chestxai`` runs)."""

import sys

from chestxai.cli import main

sys.exit(main())
