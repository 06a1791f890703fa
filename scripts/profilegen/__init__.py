"""Generator for the HealthBridge FHIR R4 conformance resources in ``fhir_profiles/``.

The compact Python sources here (differentials, terminology, examples) are turned into the
committed JSON by ``scripts/build_profiles.py``; snapshots are generated from the official R4
base definitions shipped in the npm packages under ``tools/node/node_modules``.
"""
