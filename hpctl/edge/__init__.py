"""The Azure edge: the only hpctl code that imports azure.*."""
