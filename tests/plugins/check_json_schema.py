#!/usr/bin/env python3
"""Validates a JSON document against a JSON Schema, standard library only.

Supports the keywords baton's committed schemas use: type, required,
properties, items, enum, additionalProperties (and the annotations $schema,
title, description, which it ignores). A schema using any other keyword is
refused rather than half-checked.

    check_json_schema.py SCHEMA DOCUMENT...  exit 0 when all are valid, 1 with the errors
    check_json_schema.py --self-test       checks the checker
"""
import json
import sys

ANNOTATIONS = {"$schema", "title", "description"}
KEYWORDS = {"type", "required", "properties", "items", "enum", "additionalProperties"}


def type_matches(value, name):
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise ValueError("unknown type %r in the schema" % name)


def check_schema(schema, path="#"):
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise ValueError("%s: a schema must be an object or a boolean" % path)
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise ValueError("%s: unsupported keyword(s) %s" % (path, ", ".join(sorted(unknown))))
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, "%s/properties/%s" % (path, name))
    if "items" in schema:
        check_schema(schema["items"], path + "/items")
    if isinstance(schema.get("additionalProperties"), dict):
        check_schema(schema["additionalProperties"], path + "/additionalProperties")


def validate(value, schema, where="$", errors=None):
    if errors is None:
        errors = []
    if schema is True:
        return errors
    if schema is False:
        errors.append("%s: no value is allowed here" % where)
        return errors
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_matches(value, t) for t in types):
            errors.append("%s: expected %s, got %s" % (where, " or ".join(types), json.dumps(value)[:80]))
            return errors
    if "enum" in schema and not any(value == e and type(value) is type(e) for e in schema["enum"]):
        errors.append("%s: %s is not one of %s" % (where, json.dumps(value)[:80], schema["enum"]))
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append("%s: required property %r is missing" % (where, name))
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                validate(item, props[name], "%s.%s" % (where, name), errors)
            elif extra is False:
                errors.append("%s: property %r is not allowed" % (where, name))
            elif isinstance(extra, dict):
                validate(item, extra, "%s.%s" % (where, name), errors)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], "%s[%d]" % (where, i), errors)
    return errors


def self_test():
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "array", "items": {"enum": ["x", "y"]}},
            "c": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": False,
    }
    check_schema(schema)
    cases = [
        ({"a": 1, "b": ["x"], "c": {"k": "v"}}, 0),
        ({}, 1),                      # required
        ({"a": True}, 1),             # a boolean is no integer
        ({"a": 1.5}, 1),
        ({"a": 1, "b": ["z"]}, 1),    # enum
        ({"a": 1, "d": 0}, 1),        # additionalProperties false
        ({"a": 1, "c": {"k": 2}}, 1),  # additionalProperties schema
        ([], 1),                      # type
    ]
    failed = 0
    for doc, want in cases:
        got = len(validate(doc, schema))
        if got != want:
            print("self-test: %s gave %d error(s), expected %d" % (json.dumps(doc), got, want))
            failed += 1
    try:
        check_schema({"minimum": 1})
        print("self-test: an unsupported keyword was accepted")
        failed += 1
    except ValueError:
        pass
    print("self-test: %s" % ("ok" if not failed else "%d failure(s)" % failed))
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    check_schema(schema)
    status = 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        errors = validate(document, schema)
        for e in errors:
            print("%s: %s" % (path, e))
        if errors:
            print("%s: %d schema error(s)" % (path, len(errors)))
            status = 1
        else:
            print("%s: valid against %s" % (path, argv[1]))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
