"""Method recipes, one TOML file per bundled method (installed as the package ``pearbench.baselines``).

A recipe holds only objective options: ``method = "<name>"`` and an ``[options]`` table. It is read and validated by
:func:`pearbench.train.methods.load_recipe`; :func:`pearbench.train.methods.recipe_hash` of it goes into every result record.
"""
