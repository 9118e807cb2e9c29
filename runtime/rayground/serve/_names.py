"""Names Serve gives its actors (Ray Serve's, so tools that look for them find them)."""

SERVE_NAMESPACE = "serve"
CONTROLLER_NAME = "SERVE_CONTROLLER_ACTOR"
PROXY_NAME = "SERVE_PROXY_ACTOR"
DEFAULT_APP_NAME = "default"
HTTP_METHOD = "__serve_http__"  # the router's name for an HTTP request to the ingress
ROUTES_KEY = "__routes__"  # the long-poll key the proxy follows


def deployment_key(app_name: str, deployment_name: str) -> str:
    return f"{app_name}#{deployment_name}"


def replica_actor_name(app_name: str, deployment_name: str, replica_id: str) -> str:
    return f"SERVE_REPLICA::{app_name}#{deployment_name}#{replica_id}"
