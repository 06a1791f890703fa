"""HealthBridge web layer."""
