"""The ARM templates and role definitions hpctl ships; this file makes the folder the package hpctl.templates."""
