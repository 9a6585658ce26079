"""The bundled pull reconciler: git poll -> render -> ``kubectl apply --server-side`` -> prune -> status.

Modules: ``source`` (fetch the env repo branch), ``render`` (YAML, Kustomize, Helm -> objects),
``kubectl`` (the one place that runs kubectl), ``apply`` (staged, diff-gated server-side apply),
``prune`` (inventory-based deletion with guards), ``inventory`` (the per-instance ConfigMap),
``status`` (one pass's result and the forge commit status), ``server`` (health and metrics endpoints),
``loop`` (one pass and the polling loop).
"""

INSTANCE_LABEL = "promoter.dev/instance"
PRUNE_LABEL = "promoter.dev/prune"
FIELD_MANAGER = "promoter"
