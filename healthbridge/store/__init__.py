"""HealthBridge store layer."""
