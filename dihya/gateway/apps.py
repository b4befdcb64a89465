from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "dihya.gateway"
    label = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        # Connects the signals that tell every process a key or client changed, in every
        # process that can change one (web, workers, `config apply`), not only the API's.
        # Also records every configuration change in the audit log (admin, shell, commands).
        from dihya.config import recorder as config_audit  # noqa: F401
        from dihya.gateway import keys  # noqa: F401
