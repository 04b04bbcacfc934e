"""Validates Open Referral UK 3.0 responses as a third party would: with the profile's own JSON Schemas and
OpenAPI description (tests/fixtures/oruk/3.0), the PyPI `jsonschema` validator (JSON Schema 2020-12, the
OpenAPI's dialect, formats checked) and `referencing` to resolve the OpenAPI's `$ref`s offline.

Usage: check_oruk.py SCHEMA_DIR DOCUMENTS.json
DOCUMENTS.json is a list of {"endpoint": E, "document": D}, E one of: root, services, service,
service_at_locations, service_at_location, taxonomies, taxonomy, taxonomy_terms, taxonomy_term.
Prints one JSON line: {"ok": bool, "checked": n, "formats": [...], "failures": [{"index", "endpoint", "errors"}]}.

Which schema checks which endpoint:
- root and every listing: the OpenAPI's own response schema for the path (a listing: its `Page` with
  `contents` of the profile's item schema). The OpenAPI lists their properties without requiring any, so
  every property it names is required here too: a page written the ORUK 1 way (`content`, `number`)
  would otherwise pass.
- service: compiled/service.json, as the OpenAPI says.
- service_at_location: compiled/service_at_location.json (the OpenAPI points this path at service.json,
  which cannot describe a service at a location). A listing's items use compiled/service_at_location_list.json,
  which is not in the copy: the full schema, of which it is a subset, stands in for it.
- taxonomy: schema/taxonomy.json; taxonomy_term: the profile's compiled term, from inside service.json.
"""
import json
import sys
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "https://raw.githubusercontent.com/openreferral/uk-profile/main/schema/"
OPENAPI = BASE + "openapi.json"
# The formats the profile's schemas use; each must really be checked, or the run fails.
FORMATS = ("uuid", "email", "uri", "date-time")


def resource(contents):
    return Resource.from_contents(contents, default_specification=DRAFT202012)


def load(schema_dir):
    read = lambda name: json.loads((schema_dir / name).read_text())
    openapi = read("openapi.json")
    service = read("service.schema.json")
    service_at_location = read("service_at_location.schema.json")
    term = service["properties"]["attributes"]["items"]["properties"]["taxonomy_term"]
    registry = Registry().with_resources([
        (OPENAPI, resource(openapi)),
        (BASE + "compiled/service.json", resource(service)),
        (BASE + "compiled/service_list.json", resource(read("service_list.schema.json"))),
        (BASE + "compiled/service_at_location.json", resource(service_at_location)),
        (BASE + "compiled/service_at_location_list.json", resource(service_at_location)),
        (BASE + "taxonomy.json", resource(read("taxonomy.schema.json"))),
        (BASE + "taxonomy_term.json", resource(term)),
    ])
    return openapi, registry


def every_property_required(openapi, path):
    """The OpenAPI's response schema for `path`, with every property it (and its Page) names required."""
    pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/get/responses/200/content/application~1json/schema"
    schema = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    named = list(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        ref = part.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            named += list(openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [{"$ref": OPENAPI + "#" + pointer}, {"type": "object", "required": sorted(set(named))}]}


def schemas(openapi):
    ref = lambda url: {"$ref": url}
    return {
        "root": every_property_required(openapi, "/"),
        "services": every_property_required(openapi, "/services"),
        "service_at_locations": every_property_required(openapi, "/service_at_locations"),
        "taxonomies": every_property_required(openapi, "/taxonomies"),
        "taxonomy_terms": every_property_required(openapi, "/taxonomy_terms"),
        "service": ref(BASE + "compiled/service.json"),
        "service_at_location": ref(BASE + "compiled/service_at_location.json"),
        "taxonomy": ref(BASE + "taxonomy.json"),
        "taxonomy_term": ref(BASE + "taxonomy_term.json"),
    }


def main(schema_dir, documents_path):
    openapi, registry = load(Path(schema_dir))
    by_endpoint = schemas(openapi)
    checker = Draft202012Validator.FORMAT_CHECKER
    missing = [f for f in FORMATS if f not in checker.checkers]
    if missing:
        print(json.dumps({"ok": False, "checked": 0, "formats": sorted(checker.checkers),
                          "failures": [{"index": -1, "endpoint": "-", "errors": [f"format {f} is not checked"
                                                                                  for f in missing]}]}))
        return
    failures = []
    documents = json.loads(Path(documents_path).read_text())
    for index, item in enumerate(documents):
        validator = Draft202012Validator(by_endpoint[item["endpoint"]], registry=registry, format_checker=checker)
        errors = sorted(validator.iter_errors(item["document"]), key=lambda e: list(e.absolute_path))
        if errors:
            failures.append({"index": index, "endpoint": item["endpoint"],
                             "errors": [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]})
    print(json.dumps({"ok": not failures, "checked": len(documents), "formats": sorted(FORMATS),
                      "failures": failures}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
