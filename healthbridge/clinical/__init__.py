"""HealthBridge clinical layer."""
