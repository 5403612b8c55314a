"""``python -m rag_cli``: the `rag` command without the console script."""

import sys

from rag_cli import main

sys.exit(main())
