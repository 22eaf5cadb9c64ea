"""Deployment targets: Kubernetes manifests (``lgp_lab.deploy.kubernetes``)."""
