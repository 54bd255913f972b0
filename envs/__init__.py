"""Bundled verifiable reasoning games and offline math environments (installed as ``pearbench.envs``).

One module per game; each holds its config dataclass, seeded generator, verifier, step-by-step solver (two or more
trace styles) and prompt template side by side, and registers itself with ``@register_env``. ``import pearbench``
imports every module here except ``base`` (see :func:`pearbench.registry.bundled_modules`).
"""
