"""HealthBridge FHIR R4 (4.0.1) conformance resources: profiles, code systems, value sets."""
