"""A local HTTPS endpoint that behaves like Azure Resource Manager, with a simulated hotpatch fleet."""

from hpctl.sandbox.config import SandboxConfig
from hpctl.sandbox.sandbox import Sandbox, serve

__all__ = ["Sandbox", "SandboxConfig", "serve"]
