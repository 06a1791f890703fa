"""Notifications: alert messages as FHIR ``Communication`` s and their delivery to outside
channels through topic-based ``Subscription`` s (R4 Subscriptions Backport IG), see
docs/fhir_server.md "Notifications"."""
