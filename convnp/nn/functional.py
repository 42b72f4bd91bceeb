"""``convnp.nn.functional``: the one functional namespace (PyTorch's ``torch.nn.functional``).

Every op lives in ``convnp.ops.<family>``; this module re-exports the public functions.
"""

from convnp.ops.activation import *  # noqa: F401,F403

# the rest of torch.nn.functional: compositions, distances, embeddings, sampling, attention
from convnp.ops.attention import *  # noqa: F401,F403
from convnp.ops.composite import *  # noqa: F401,F403
from convnp.ops.conv import *  # noqa: F401,F403
from convnp.ops.distance import *  # noqa: F401,F403
from convnp.ops.dropout import *  # noqa: F401,F403
from convnp.ops.elementwise import sigmoid, tanh  # noqa: F401
from convnp.ops.embedding import *  # noqa: F401,F403
from convnp.ops.fold import *  # noqa: F401,F403
from convnp.ops.linear import *  # noqa: F401,F403
from convnp.ops.loss import *  # noqa: F401,F403
from convnp.ops.loss_composite import *  # noqa: F401,F403
from convnp.ops.normalization import *  # noqa: F401,F403
from convnp.ops.padding import *  # noqa: F401,F403
from convnp.ops.pooling import *  # noqa: F401,F403
from convnp.ops.sampling import *  # noqa: F401,F403
from convnp.ops.unpooling import *  # noqa: F401,F403
from convnp.ops.upsample import *  # noqa: F401,F403
