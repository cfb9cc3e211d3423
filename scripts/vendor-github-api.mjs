// Cuts the part of GitHub's API descriptions that enlist's tests need (see
// tests/github-api/README.md). Run through scripts/vendor-github-api, which fetches the pinned
// npm packages; this file only transforms:
//
//   node vendor-github-api.mjs OPENAPI_JSON SCHEMA_GRAPHQL GRAPHQL_JS_DIR OUT_DIR
//
// Output is a pure function of the inputs (fixed operation list, sorted components, fixed
// formatting), so re-running it on the same package versions reproduces the files byte for byte.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// The REST operations enlist sends and the fake GitHub answers. Add one here (and re-run
// scripts/vendor-github-api) before the client or the fake uses it: the fake refuses operations
// that are not in the description.
const OPERATIONS = [
  ["get", "/"],
  ["get", "/rate_limit"],
  ["get", "/repos/{owner}/{repo}"],
  ["get", "/repos/{owner}/{repo}/branches/{branch}"],
  ["get", "/repos/{owner}/{repo}/contents/{path}"],
  ["put", "/repos/{owner}/{repo}/contents/{path}"],
  ["post", "/repos/{owner}/{repo}/git/blobs"],
  ["post", "/repos/{owner}/{repo}/git/commits"],
  ["get", "/repos/{owner}/{repo}/git/commits/{commit_sha}"],
  ["get", "/repos/{owner}/{repo}/git/ref/{ref}"],
  ["post", "/repos/{owner}/{repo}/git/refs"],
  ["patch", "/repos/{owner}/{repo}/git/refs/{ref}"],
  ["post", "/repos/{owner}/{repo}/git/trees"],
  ["patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"],
  ["get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"],
  ["get", "/repos/{owner}/{repo}/pulls"],
  ["post", "/repos/{owner}/{repo}/pulls"],
  ["get", "/repos/{owner}/{repo}/pulls/{pull_number}"],
  ["patch", "/repos/{owner}/{repo}/pulls/{pull_number}"],
  // Pending boots: the PR head's checks (auto-merge waits for the required reconcile check).
  ["get", "/repos/{owner}/{repo}/commits/{ref}/check-runs"],
  ["get", "/repos/{owner}/{repo}/commits/{ref}/status"],
  // GitHub App authentication.
  ["get", "/repos/{owner}/{repo}/installation"],
  ["post", "/app/installations/{installation_id}/access_tokens"],
  ["delete", "/installation/token"],
  // `enlist gate`: the PR's files, its reviews and each reviewer's permission (read only).
  ["get", "/repos/{owner}/{repo}/pulls/{pull_number}/files"],
  // The files between the PR's pinned base and head shas (the list a machine change stands on).
  ["get", "/repos/{owner}/{repo}/compare/{basehead}"],
  ["get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"],
  ["get", "/repos/{owner}/{repo}/collaborators/{username}/permission"],
  // `enlist doctor`: the base branch's rules (rulesets, classic protection) and the token's user.
  ["get", "/repos/{owner}/{repo}/rules/branches/{branch}"],
  ["get", "/repos/{owner}/{repo}/branches/{branch}/protection"],
  ["get", "/user"],
];

// Prose and vendor extensions: not part of the machine-readable contract.
const PROSE = new Set(["description", "summary", "externalDocs", "example", "examples"]);
// Keywords whose value is a map from names (not keywords) to objects: a property may well be
// called `description`, a response header `x-…`; those names must survive.
const NAME_MAPS = new Set(["properties", "patternProperties", "headers"]);

function strip(value) {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, inner] of Object.entries(value)) {
    if (PROSE.has(key) || key.startsWith("x-")) continue;
    if (NAME_MAPS.has(key) && inner && typeof inner === "object" && !Array.isArray(inner)) {
      const names = {};
      for (const [name, schema] of Object.entries(inner)) names[name] = strip(schema);
      out[key] = names;
    } else {
      out[key] = strip(inner);
    }
  }
  return out;
}

function refsIn(value, found) {
  if (Array.isArray(value)) {
    value.forEach((v) => refsIn(v, found));
  } else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$ref" && typeof inner === "string") found.push(inner);
      else refsIn(inner, found);
    }
  }
  return found;
}

function cutRest(api) {
  const paths = {};
  for (const [method, path] of OPERATIONS) {
    const item = api.paths[path];
    if (!item || !item[method]) throw new Error(`${method.toUpperCase()} ${path}: not in the description`);
    paths[path] ??= {};
    if (item.parameters) paths[path].parameters = strip(item.parameters);
    paths[path][method] = strip(item[method]);
  }
  // Every component the operations reference, transitively.
  const components = {};
  const queue = refsIn(paths, []);
  const seen = new Set();
  while (queue.length > 0) {
    const ref = queue.pop();
    if (seen.has(ref)) continue;
    seen.add(ref);
    const match = /^#\/components\/([^/]+)\/([^/]+)$/.exec(ref);
    if (!match) throw new Error(`unsupported $ref ${ref}`);
    const [, section, name] = match;
    const target = api.components?.[section]?.[name];
    if (target === undefined) throw new Error(`dangling $ref ${ref}`);
    const cut = strip(target);
    (components[section] ??= {})[name] = cut;
    queue.push(...refsIn(cut, []));
  }
  const sorted = {};
  for (const section of Object.keys(components).sort()) {
    sorted[section] = {};
    for (const name of Object.keys(components[section]).sort()) {
      sorted[section][name] = components[section][name];
    }
  }
  return {
    openapi: api.openapi,
    info: { title: api.info.title, version: api.info.version },
    paths,
    components: sorted,
  };
}

function cutGraphql(graphql, sdl) {
  const doc = graphql.parse(sdl, { noLocation: true });
  let duplicates = 0;
  const cut = graphql.visit(doc, {
    enter(node) {
      const next = { ...node };
      if ("description" in node) next.description = undefined;
      // GitHub's SDL declares two fields of `EnterpriseOwnerInfo` twice (identically); strict
      // parsers refuse that. Keep the first declaration.
      if (Array.isArray(node.fields)) {
        const names = new Set();
        next.fields = node.fields.filter((f) => {
          if (names.has(f.name.value)) {
            duplicates += 1;
            return false;
          }
          names.add(f.name.value);
          return true;
        });
      }
      return next;
    },
  });
  const printed = graphql.print(cut) + "\n";
  // The result must be a valid schema for a strict builder (no assumeValidSDL).
  graphql.buildSchema(printed);
  return { printed, duplicates };
}

const [openapiPath, sdlPath, graphqlJsDir, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node vendor-github-api.mjs OPENAPI_JSON SCHEMA_GRAPHQL GRAPHQL_JS_DIR OUT_DIR");
  process.exit(64);
}
const api = JSON.parse(readFileSync(openapiPath, "utf8"));
const rest = cutRest(api);
writeFileSync(join(outDir, "api.github.com.subset.json"), JSON.stringify(rest, null, 1) + "\n");

const graphql = createRequire(import.meta.url)(join(graphqlJsDir, "index.js"));
const { printed, duplicates } = cutGraphql(graphql, readFileSync(sdlPath, "utf8"));
writeFileSync(join(outDir, "schema.graphql"), printed);

const schemas = Object.keys(rest.components.schemas ?? {}).length;
console.error(
  `REST: ${OPERATIONS.length} operations, ${schemas} schemas; GraphQL: ${printed.length} bytes ` +
    `(${duplicates} duplicate field declarations dropped)`,
);
