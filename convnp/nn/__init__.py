"""``convnp.nn``: modules, parameters, functional ops and initialisers (``torch.nn``'s layout)."""

from convnp.nn import functional, init, parallel, utils  # noqa: F401
from convnp.nn.modules import *  # noqa: F401,F403
from convnp.nn.modules._geometry import Window  # noqa: F401  (what Module.window() returns)
from convnp.nn.modules.module import Module, Parameter  # noqa: F401
from convnp.nn.parallel import DataParallel  # noqa: F401  (also torch.nn.DataParallel)
