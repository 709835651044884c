"""Question answering with citations over Chinese local rule-of-law government plans.

Importing the package is cheap: models and heavy backends load lazily, when a stage
that needs them is first used.
"""

__version__ = "0.1.0"
