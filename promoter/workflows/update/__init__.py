"""``promoter update``: keep images current by policy, from the registry, byte-exact and race-safe like bump.

============== ===========================================================================================
``run``         the use case: select apps and environments, ask registries once, plan, deliver per env
``catalog``     one run's registry facts: one tag listing per repository, digests, build times
``strategies``  the choice per app: semver, digest, newest-build, alphabetical, numerical; never backwards
``versions``    tags read as versions (lenient semver, ``_`` build metadata), npm ranges, numeric keys
``edit``        the transaction's edit (decided again on the newest head) and the commit message
``model``       options, plan rows and the result
============== ===========================================================================================
"""

from promoter.workflows.update.model import EnvOutcome, PlanRow, UpdateOptions, UpdateResult
from promoter.workflows.update.run import select, update

__all__ = ["EnvOutcome", "PlanRow", "UpdateOptions", "UpdateResult", "select", "update"]
