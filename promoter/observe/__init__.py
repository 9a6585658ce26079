"""Deployment feedback: did the change promoter pushed deploy, and is it healthy?

* :mod:`~promoter.observe.source`: the protocol every source implements; sources for Argo CD
  (:mod:`~promoter.observe.argocd`), Flux (:mod:`~promoter.observe.flux`), commit statuses
  (:mod:`~promoter.observe.commit_status`) and promoter's bundled reconciler
  (:mod:`~promoter.observe.bundled`).
* :mod:`~promoter.observe.machine`: observations -> one :class:`~promoter.observe.model.DeploymentState`
  per app (pending, progressing, healthy, failed), pure.
* :mod:`~promoter.observe.wait`: the polling loop (deadline, settle, retries with backoff, stop).
* :mod:`~promoter.observe.report`: the outcome where developers look (GitHub Deployments, GitLab commit
  statuses and a merge request note, the job summary and CI outputs).

Nothing here imports requests or a forge library at import time.
"""
