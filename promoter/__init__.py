"""promoter: the CI-side half of GitOps."""

__version__ = "0.1.0"
