"""Pure rules of the hotpatch program: no Azure SDK, no CLI."""
