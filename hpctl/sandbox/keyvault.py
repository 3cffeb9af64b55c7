"""Key Vault as ARM sees it: vaults and their secrets (values write-only), and deployment parameter references."""

from __future__ import annotations

import re
from typing import Any

from hpctl.sandbox.armerrors import ArmError

VAULT = "Microsoft.KeyVault/vaults"
SECRET = "Microsoft.KeyVault/vaults/secrets"
ARM_KEYVAULT_HELP = "Please see https://aka.ms/arm-keyvault for usage details."
_VAULT_ID = re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/[^/]+$",
                       re.IGNORECASE)


class SecretValues:
    """Secret values by lower-case secret id. The management plane takes a value on PUT but never returns it."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def store(self, secret_id: str, props: dict[str, Any]) -> dict[str, Any]:
        """Keep the value aside; return the properties a GET shows (no value, as on Azure)."""
        value = props.get("value")
        if isinstance(value, str):
            self._values[secret_id.lower()] = value
        vault_uri = f"https://{secret_id.split('/')[-3]}.vault.azure.net"
        shown = {k: v for k, v in props.items() if k != "value"}
        shown.setdefault("attributes", {"enabled": True})
        shown["secretUri"] = f"{vault_uri}/secrets/{secret_id.split('/')[-1]}"
        return shown

    def value(self, secret_id: str) -> str | None:
        return self._values.get(secret_id.lower())


def resolve_reference(parameter: str, reference: Any, find: Any, secrets: SecretValues) -> str:
    """The secret a deployment parameter's Key Vault reference names, or ARM's 400 for why it can't be read.

    `find(resource_id)` returns a stored resource body or None. ARM resolves references before it starts any
    resource, so a bad reference fails the whole deployment request.
    """
    vault_id = ((reference or {}).get("keyVault") or {}).get("id") if isinstance(reference, dict) else None
    secret_name = reference.get("secretName") if isinstance(reference, dict) else None
    if not isinstance(vault_id, str) or not _VAULT_ID.match(vault_id) or not isinstance(secret_name, str):
        raise ArmError(400, "InvalidDeploymentParameterKeyVaultReference",
                       f"The Key Vault reference of deployment parameter '{parameter}' is not valid: it needs "
                       f"keyVault.id (a vault's resource id) and secretName. {ARM_KEYVAULT_HELP}")
    vault = find(vault_id)
    if vault is None:
        raise ArmError(400, "KeyVaultParameterReferenceNotFound",
                       f"The specified KeyVault '{vault_id}' could not be found. {ARM_KEYVAULT_HELP}")
    if not (vault.get("properties") or {}).get("enabledForTemplateDeployment"):
        raise ArmError(400, "KeyVaultParameterReferenceSecretRetrieveFailed",
                       f"The secret of KeyVault parameter '{parameter}' cannot be retrieved. Http status code: "
                       f"'Forbidden'. Error message: 'The key vault '{vault_id.split('/')[-1]}' is not enabled for "
                       f"template deployment (enabledForTemplateDeployment is false)'. {ARM_KEYVAULT_HELP}")
    value = secrets.value(f"{vault_id}/secrets/{secret_name}")
    if value is None:
        raise ArmError(400, "KeyVaultParameterReferenceSecretRetrieveFailed",
                       f"The secret of KeyVault parameter '{parameter}' cannot be retrieved. Http status code: "
                       f"'NotFound'. Error message: 'A secret with (name/id) {secret_name} was not found in this key "
                       f"vault.'. {ARM_KEYVAULT_HELP}")
    return value
