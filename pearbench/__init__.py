"""pearbench: which SFT objective leaves a model best prepared for RL?

``import pearbench`` registers every bundled environment with Gymnasium (``pearbench/<Name>-v0``).
"""

__version__ = "0.1.0"

from pearbench.errors import PearbenchError  # noqa: E402
from pearbench.verify.verdict import Verdict  # noqa: E402

__all__ = ["PearbenchError", "Verdict", "__version__"]


from pearbench import registry as _registry  # noqa: E402
from pearbench._lazy import install_moved_module_finder as _install_moved_module_finder  # noqa: E402

_install_moved_module_finder()
_registry.ensure_loaded()
