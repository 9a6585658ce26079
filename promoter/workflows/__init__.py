"""Use cases, one module each: a workflow takes validated inputs and returns a result object."""
