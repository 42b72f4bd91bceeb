"""Layer classes. Each module stores settings and parameters and calls a functional op."""

from convnp.nn.modules.module import Module, Parameter
