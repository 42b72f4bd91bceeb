"""Layer classes. Each module stores settings and parameters and calls a functional op."""

from convnp.nn.modules.activation import *  # noqa: F401,F403
from convnp.nn.modules.activation_more import *  # noqa: F401,F403
from convnp.nn.modules.adaptive import *  # noqa: F401,F403
from convnp.nn.modules.attention import *  # noqa: F401,F403
from convnp.nn.modules.blocks import *  # noqa: F401,F403
from convnp.nn.modules.buffer import *  # noqa: F401,F403
from convnp.nn.modules.container import *  # noqa: F401,F403
from convnp.nn.modules.conv import *  # noqa: F401,F403
from convnp.nn.modules.distance import *  # noqa: F401,F403
from convnp.nn.modules.dropout import *  # noqa: F401,F403
from convnp.nn.modules.flatten import *  # noqa: F401,F403
from convnp.nn.modules.lazy import *  # noqa: F401,F403
from convnp.nn.modules.linear import *  # noqa: F401,F403
from convnp.nn.modules.loss import *  # noqa: F401,F403
from convnp.nn.modules.loss_more import *  # noqa: F401,F403
from convnp.nn.modules.module import Module, Parameter
from convnp.nn.modules.normalization import *  # noqa: F401,F403
from convnp.nn.modules.normalization_more import *  # noqa: F401,F403
from convnp.nn.modules.padding import *  # noqa: F401,F403
from convnp.nn.modules.pooling import *  # noqa: F401,F403
from convnp.nn.modules.pooling_more import *  # noqa: F401,F403
from convnp.nn.modules.sync_batchnorm import *  # noqa: F401,F403
from convnp.nn.modules.upsample import *  # noqa: F401,F403
