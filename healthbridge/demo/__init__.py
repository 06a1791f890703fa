"""Synthetic, seeded demo district: organisations, children, guardians and their records.

:mod:`healthbridge.demo.population` draws the district as plain tables (no FHIR), and
:mod:`healthbridge.demo.bundles` turns it into FHIR R4 transaction Bundles that any FHIR
server (ours included) can load. Everything is synthetic: names, identifiers and phone
numbers are invented; growth values are drawn around the WHO medians with
:func:`growth_standards.value_at_z`.
"""
