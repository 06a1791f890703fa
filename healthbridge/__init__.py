"""HealthBridge: the shared child-health record for medical-childcare integration (医育融合)."""

__version__ = "0.1.0"
