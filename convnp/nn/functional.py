"""``convnp.nn.functional``: the one functional namespace (PyTorch's ``torch.nn.functional``).

Every op lives in ``convnp.ops.<family>``; this module re-exports the public functions.
"""

from convnp.ops.activation import *  # noqa: F401,F403
from convnp.ops.conv import *  # noqa: F401,F403
from convnp.ops.dropout import *  # noqa: F401,F403
from convnp.ops.elementwise import sigmoid, tanh  # noqa: F401
from convnp.ops.fold import *  # noqa: F401,F403
from convnp.ops.linear import *  # noqa: F401,F403
from convnp.ops.loss import *  # noqa: F401,F403
from convnp.ops.normalization import *  # noqa: F401,F403
from convnp.ops.padding import *  # noqa: F401,F403
from convnp.ops.pooling import *  # noqa: F401,F403
from convnp.ops.unpooling import *  # noqa: F401,F403
from convnp.ops.upsample import *  # noqa: F401,F403
from convnp.ops.sampling import affine_grid, grid_sample  # noqa: F401
