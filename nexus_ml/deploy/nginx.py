"""The nginx configuration in front of the ERP modules, from the catalog.

One location and one upstream variable per module: ``/<short name>/`` is proxied to the
module's port. The upstream is a variable, so nginx resolves it at request time with
``resolver`` (Docker's DNS on an overlay network): ``tasks.<service>`` answers one address per
running task, which also lets ``proxy_next_upstream`` retry a request on another task when one
fails or is unhealthy. A static ``upstream`` block would be resolved once at start-up and keep
the addresses of tasks that Swarm has since replaced.
"""

from __future__ import annotations

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.deploy.options import DeployOptions, full_service_name, service_address

HEADER = (
    "# nginx in front of the Nexus ERP modules, rendered by `nexus-ml stack render` from the\n"
    "# module catalog. Do not edit: change the catalog and render again.\n"
    "# Run: nginx -p RUNTIME_DIR -c THIS_FILE (pid and temp files live under RUNTIME_DIR).\n"
)

_GLOBAL = """worker_processes 1;
pid nginx.pid;
error_log stderr warn;

events {
    worker_connections 1024;
}

http {
    access_log off;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

    # Upstreams are variables: resolved at request time, never cached past `valid`.
    resolver {resolver} valid=5s ipv6=off;
    resolver_timeout 2s;

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Request-ID $request_id;
    proxy_connect_timeout 2s;
    proxy_send_timeout 30s;
    proxy_read_timeout 30s;
    # Health-aware retries: a refused connection, a timeout or a 502/503/504 from one task
    # is retried on the next address; POSTs are retried only when nothing was sent.
    proxy_next_upstream error timeout http_502 http_503 http_504;
    proxy_next_upstream_tries 3;
    proxy_next_upstream_timeout 10s;

    server {
        listen {listen};
        server_name _;

        location = /nginx-health {
            return 200 "ok\\n";
        }
"""

_FOOTER = """
        location / {
            return 404 "unknown module\\n";
        }
    }
}
"""


def upstream_variable(module: ModuleProfile) -> str:
    """The nginx variable that holds ``module``'s upstream (``$upstream_crm``)."""
    return "$upstream_" + module.short_name.replace("-", "_")


def _location(module: ModuleProfile, options: DeployOptions) -> str:
    host = service_address(options, full_service_name(options, module.name))
    var = upstream_variable(module)
    prefix = f"/{module.short_name}/"
    return f"""
        # {module.display_name} ({module.name})
        location {prefix} {{
            set {var} {host}:{module.port};
            rewrite ^{prefix}(.*)$ /$1 break;
            proxy_pass http://{var};
        }}
"""


def render_nginx(catalog: Catalog, options: DeployOptions | None = None) -> str:
    """The whole ``nginx.conf`` text (a main config, runnable with ``nginx -c``).

    Parameters
    ----------
    catalog
        The module catalog: one location per module, at ``/<short name>/``.
    options
        Resolver, listen address and networking; production defaults when ``None``.

    Returns
    -------
    str
        The configuration, byte-identical for equal inputs.
    """
    options = options or DeployOptions()
    head = _GLOBAL.replace("{resolver}", options.resolver).replace("{listen}", options.nginx_listen)
    locations = "".join(_location(catalog.get(n), options) for n in catalog.dependency_order())
    return HEADER + head + locations + _FOOTER
