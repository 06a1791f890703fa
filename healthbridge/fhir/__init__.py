"""HealthBridge fhir layer."""
