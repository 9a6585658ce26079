"""The bundled pull reconciler: git poll -> render -> ``kubectl apply --server-side`` -> prune -> status.

Modules: ``source`` (fetch the env repo branch), ``render`` (YAML, Kustomize, Helm -> objects),
``kubectl`` (the one place that runs kubectl), ``live`` (the server-side list of what exists),
``fingerprint`` (hashes that spot changes without per-object calls), ``plan`` (create, update, in sync
or conflict, by ownership), ``apply`` (staged server-side apply), ``prune`` (inventory-based deletion
with guards), ``inventory`` (the per-instance ConfigMap), ``status`` (one pass's result, as stored for
``promoter wait`` and posted as a commit status), ``server`` (health and metrics endpoints), ``loop``
(one pass and the polling loop).

Ownership: every object promoter applies carries the label ``promoter.dev/instance: <instance>`` and the
annotation ``promoter.dev/owned-by: <instance>``, written when promoter creates it. An object that exists
without that annotation is never applied, relabelled or pruned.
"""

INSTANCE_LABEL = "promoter.dev/instance"
OWNER_ANNOTATION = "promoter.dev/owned-by"
PRUNE_LABEL = "promoter.dev/prune"
FIELD_MANAGER = "promoter"
