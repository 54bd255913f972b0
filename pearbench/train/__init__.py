"""Training layer: token weights (:mod:`~pearbench.train.weights`: PEAR, DFT) and losses
(:mod:`~pearbench.train.objectives`), objective options (:mod:`~pearbench.train.options`), the method registry
(:mod:`~pearbench.train.methods`) and the bundled methods (:mod:`~pearbench.train.bundled`), and the SFT and GRPO
loops (:mod:`~pearbench.train.sft`, :mod:`~pearbench.train.grpo`) on a shared resumable skeleton
(:mod:`~pearbench.train.loop`) with their checkpoints. Depends on the core modules and :mod:`pearbench.models` only.
"""
