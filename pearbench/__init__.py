"""pearbench: which SFT objective leaves a model best prepared for RL?

``import pearbench`` registers every bundled environment with Gymnasium (``pearbench/<Name>-v0``).
"""

__version__ = "0.1.0"

from pearbench.errors import PearbenchError  # noqa: E402
from pearbench.verdict import Verdict  # noqa: E402

__all__ = ["PearbenchError", "Verdict", "__version__"]


def _register_bundled() -> None:
    from pearbench import registry

    registry.ensure_loaded()


_register_bundled()
