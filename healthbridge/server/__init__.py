"""The server: ``create_app`` assembles the FHIR API (:mod:`healthbridge.api`) and the pages
(:mod:`healthbridge.web`) into one application with its lifespan; ``asgi`` is the entry point
of process managers. It sits above both (docs/architecture.md), so neither imports the other.
"""
