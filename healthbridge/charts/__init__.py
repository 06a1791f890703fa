"""HealthBridge charts layer."""
