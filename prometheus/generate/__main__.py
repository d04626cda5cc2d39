"""`python -m prometheus.generate`: see the package's docstring."""

import sys

from prometheus.generate.output import main

sys.exit(main())
