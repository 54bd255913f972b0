"""Training layer: SFT objectives (PEAR weights and losses), the method registry and bundled methods, and the SFT and
GRPO loops with their checkpoints. Depends on the core modules and :mod:`pearbench.models` only.
"""
