"""hpctl: run Azure Hotpatch for Windows Server Datacenter: Azure Edition VMs."""

__version__ = "0.1.0"
