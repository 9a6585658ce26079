"""Gates: the rules around a change to an environment, as pure functions of config, history and a clock.

============== ==========================================================================================
``clock``       the injectable clock; moments and durations as people read them
``freeze``      freeze windows: frozen at a moment? by which windows, until when (DST-proof, via zoneinfo)
``soak``        has a version run long enough in the source environment? when will it have?
``checks``      required commit statuses / check runs on the source environment's commit
``holds``       apps pinned in an environment (``.promoter/holds.yaml`` on its branch)
``health``      since when a version was reported healthy (commit statuses on the env commit)
``history``     the changes of apps' versions in an environment, from trailers and file history
``soaking``     soak verdicts for a promotion from one walk of the source's history
``record``      the ``Promoter-*`` trailers gates and history read back
============== ==========================================================================================

Nothing here changes the env repo; workflows call the gates and decide (refuse with exit 4, skip an app,
or record an override).
"""
