"""Deployment from the catalog: the Swarm stack, the nginx config, images and release checks."""

from nexus_ml.deploy.nginx import render_nginx
from nexus_ml.deploy.options import DeployOptions
from nexus_ml.deploy.stack import render_stack, stack_document

__all__ = ["DeployOptions", "render_nginx", "render_stack", "stack_document"]
