"""hpctl's error types and the exit code each one ends the process with (BRIEF §3)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_AZURE_FAILED = 1
EXIT_INPUT_REJECTED = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_NON_COMPLIANT = 5


class HpctlError(Exception):
    """An error hpctl reports to the user as one line (plus an optional hint), then exits."""

    exit_code = EXIT_AZURE_FAILED

    def __init__(self, message: str, hint: str | None = None, *, request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.request_id = request_id


class InputError(HpctlError):
    """Input rejected before anything was sent to Azure: usage, validation, ineligible image."""

    exit_code = EXIT_INPUT_REJECTED


class AzureOperationError(HpctlError):
    """An Azure operation failed (for a fleet: at least one target)."""

    exit_code = EXIT_AZURE_FAILED


class NotFoundError(HpctlError):
    """The resource (or resource group, or subscription) does not exist."""

    exit_code = EXIT_NOT_FOUND


class AuthError(HpctlError):
    """Authentication or authorization failed."""

    exit_code = EXIT_AUTH


class NonCompliantError(HpctlError):
    """Findings at or above the user's --fail-on threshold."""

    exit_code = EXIT_NON_COMPLIANT
