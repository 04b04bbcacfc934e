// Validates the checked-in SDL with graphql-js (an independent implementation): it must build into a
// schema whose root types exist, and introspecting it must round-trip.
import { readFileSync } from "node:fs";
import { buildSchema, validateSchema, introspectionFromSchema, buildClientSchema, printSchema } from "graphql";

const path = process.argv[2];
const schema = buildSchema(readFileSync(path, "utf8"));
const errors = validateSchema(schema);
if (errors.length) {
  console.error(errors.map((e) => e.message).join("\n"));
  process.exit(1);
}
for (const root of [schema.getQueryType(), schema.getMutationType()]) {
  if (!root) { console.error("missing root type"); process.exit(1); }
}
const roundTripped = printSchema(buildClientSchema(introspectionFromSchema(schema)));
if (roundTripped !== printSchema(schema)) { console.error("introspection does not round-trip"); process.exit(1); }
console.log(JSON.stringify({ types: Object.keys(schema.getTypeMap()).length, mutations: Object.keys(schema.getMutationType().getFields()).length }));
