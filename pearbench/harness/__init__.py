"""Harness layer: configuration (profiles and suites), the content-addressed stage cache, the stages of one run
(tasks -> base/teacher -> behavior data -> SFT -> RL -> evaluation -> record), the runner, and sweeps.

The only layer that knows the whole protocol; it uses envs, verify, models, train and results. The runner's public
names (``run``, ``RunRequest``, ``Harness``) are re-exported here, loaded on first use.
"""

from pearbench._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CACHE_VERSION": "cache",
        "Harness": "runner",
        "RunContext": "context",
        "RunRequest": "runner",
        "STAGES": "runner",
        "StageDir": "cache",
        "build_context": "runner",
        "git_commit": "context",
        "package_versions": "context",
        "quiet_transformers": "context",
        "run": "runner",
        "run_id_for": "runner",
        "say": "context",
        "seed_everything": "runner",
        "threads_from_env": "context",
    },
)
