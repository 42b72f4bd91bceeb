"""Random number generation: ``Generator``, ``manual_seed``, ``default_generator``.

convnp draws from NumPy's PCG64. Seeds make convnp runs reproducible; they do not reproduce
PyTorch's random streams (weights that must match torch are copied, not re-drawn).
"""

from __future__ import annotations

import numpy as np


class Generator:
    """A seeded source of random numbers; pass it as ``generator=`` to random functions."""

    def __init__(self, device: str = "cpu") -> None:
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self.np = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        """Reset the stream to a reproducible state; returns self like torch."""
        if not isinstance(seed, (int, np.integer)):
            raise TypeError(f"manual_seed: 'seed' must be an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self.np = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        """Re-seed from fresh entropy and return the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def get_state(self) -> dict:
        """The full generator state (a JSON-friendly dict), for checkpoints."""
        return self.np.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.np.bit_generator.state = state


default_generator = Generator()
default_generator.manual_seed(0)


def manual_seed(seed: int) -> Generator:
    """Seed convnp's default generator (weight initialisation, dropout, shuffling, rand*)."""
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    return default_generator.initial_seed()


def seed() -> int:
    return default_generator.seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (or the default one)."""
    if generator is None:
        return default_generator.np
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a convnp.Generator for 'generator', got "
                        f"{type(generator).__name__}")
    return generator.np
