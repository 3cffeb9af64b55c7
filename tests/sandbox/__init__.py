"""Tests of hpctl.sandbox, the local ARM endpoint."""
