"""The built-in ``$operations`` of the FHIR API: ``Patient/$everything``, ``$expunge``,
``$validate`` and the chart operations, registered into a fresh
:class:`~healthbridge.operations.OperationRegistry` (the registry itself lives below the API, so
the pipeline can register its operations too; docs/architecture.md).
"""

from __future__ import annotations

from healthbridge.operations import OperationRegistry, everything


def default_registry(ruleset_key: str) -> OperationRegistry:
    """A registry with the built-in operations; ``ruleset_key``: the deployment's rule set
    (``settings.ruleset_key``), whose schedules the parent report shows."""
    registry = OperationRegistry()
    registry.register(
        "everything",
        everything,
        levels={"instance"},
        resource_types={"Patient"},
        description="All resources in the patient's compartment and what they refer to",
        definition_url="http://hl7.org/fhir/OperationDefinition/Patient-everything",
    )
    from healthbridge.api.expunge import expunge_operation

    registry.register(
        "expunge",
        expunge_operation,
        levels={"system", "type"},
        affects_state=True,
        description="Remove deleted resources and/or previous versions for good (admin)",
        definition_url="https://hapifhir.io/hapi-fhir/docs/server_jpa/configuration.html",
    )
    from healthbridge.api.validation import VALIDATE_DEFINITION, validate_operation

    registry.register(
        "validate",
        validate_operation,
        levels={"type", "instance"},
        description="Validate a resource against base FHIR R4 and the HealthBridge profiles",
        definition_url=VALIDATE_DEFINITION,
    )
    from healthbridge.api.chart_operations import register_chart_operations

    register_chart_operations(registry, ruleset_key)
    return registry
