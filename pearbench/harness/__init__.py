"""Harness layer: configuration (profiles and suites), the content-addressed stage cache, the stages of one run
(tasks -> base/teacher -> behavior data -> SFT -> RL -> evaluation -> record), the runner, and sweeps.

The only layer that knows the whole protocol; it uses envs, verify, models, train and results. The runner's public
names (``run``, ``RunRequest``, ``Harness``) are re-exported here, loaded on first use.
"""

from pearbench._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CACHE_VERSION": "runner",
        "Harness": "runner",
        "RunRequest": "runner",
        "STAGES": "runner",
        "StageDir": "runner",
        "git_commit": "runner",
        "package_versions": "runner",
        "run": "runner",
        "seed_everything": "runner",
        "threads_from_env": "runner",
    },
)
