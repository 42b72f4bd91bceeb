"""``python -m convnp ...`` runs the ``convnp`` command line."""

import sys

from convnp.cli import main

sys.exit(main())
