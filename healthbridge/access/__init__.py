"""HealthBridge access layer."""
