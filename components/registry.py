"""Pull credentials for the container registry, attached to the namespace's default ServiceAccount."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from platform_ops.config import RegistrySettings


def docker_config_json(server: str, username: str, token: str) -> str:
    auth = base64.b64encode(f"{username}:{token}".encode()).decode()
    return json.dumps({"auths": {server: {"username": username, "password": token, "auth": auth}}},
                      sort_keys=True)


@dataclass
class RegistryCredentialsArgs:
    """The registry credentials of the stack, and the namespace whose pods pull with them."""

    settings: RegistrySettings
    namespace: str


class RegistryCredentials(pulumi.ComponentResource):
    """The image pull secret (dockerconfigjson, a secret in state) and the default ServiceAccount
    patched to use it. Without a token it creates nothing and says so in the log."""

    def __init__(self, name: str, args: RegistryCredentialsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:registry:RegistryCredentials", name, None, opts)
        settings = args.settings
        self.secret_name: Optional[str] = None
        if not settings.has_credentials:
            pulumi.log.info(
                f"registry: platform-ops:registryToken is not set, so no pull secret is created and "
                f"images from {settings.server} are pulled anonymously",
                resource=self,
            )
            self.register_outputs({"pullSecret": None})
            return

        config_json = pulumi.Output.secret(settings.token).apply(
            lambda token: docker_config_json(settings.server, settings.username, token))
        secret = k8s.core.v1.Secret(
            f"{name}-pull-secret",
            metadata={"name": settings.secret_name, "namespace": args.namespace},
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": pulumi.Output.secret(config_json)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The default ServiceAccount already exists: patch it server-side, as
        # `kubectl patch serviceaccount default` would, instead of owning it.
        k8s.core.v1.ServiceAccountPatch(
            f"{name}-default-serviceaccount",
            metadata={"name": "default", "namespace": args.namespace},
            image_pull_secrets=[{"name": settings.secret_name}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
        )
        self.secret_name = settings.secret_name
        self.register_outputs({"pullSecret": self.secret_name})
