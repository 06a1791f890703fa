"""HealthBridge reports layer."""
