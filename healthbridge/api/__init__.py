"""HealthBridge api layer."""
