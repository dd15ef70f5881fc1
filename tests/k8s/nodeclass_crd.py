"""Print a CustomResourceDefinition for an eks.amazonaws.com/v1 kind of EKS Auto Mode
(NodeClass by default, or IngressClassParams), generated from keelson's JSON Schema of
the kind (schemas/nodeclass.schema.json, schemas/ingressclassparams.schema.json).

AWS does not publish the CRDs of EKS Auto Mode's NodeClass and IngressClassParams, so the
real API server in keelson's tests gets them made from keelson's own schemas: they check
keelson's kube-rs adapter against a real server (server-side apply, managedFields,
pruning), not keelson's rules against AWS's.

    python3 nodeclass_crd.py schemas/nodeclass.schema.json > crd.json
    python3 nodeclass_crd.py schemas/ingressclassparams.schema.json IngressClassParams ingressclassparams

A CRD takes a structural OpenAPI v3 schema: references are inlined, `const` becomes a
one-value `enum`, `type: [T, "null"]` becomes `nullable`, and the JSON-Schema-only keywords
are dropped (unknown fields are pruned by the server instead of refused).
"""

import json
import sys

DROPPED = {"$schema", "$id", "$defs", "title", "additionalProperties", "examples"}


def convert(node, defs):
    if isinstance(node, list):
        return [convert(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {k: v for k, v in node.items() if k != "$ref"}
        merged.update({k: v for k, v in target.items() if k != "description" or "description" not in merged})
        return convert(merged, defs)
    out = {}
    for key, value in node.items():
        if key == "additionalProperties" and isinstance(value, dict):
            out[key] = convert(value, defs)  # a map's value schema stays
        elif key in DROPPED:
            continue
        elif key == "const":
            out["enum"] = [value]
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out["type"] = types[0]
            if "null" in value:
                out["nullable"] = True
        elif key == "properties":
            out[key] = {name: convert(v, defs) for name, v in value.items()}
        else:
            out[key] = convert(value, defs)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    kind = sys.argv[2] if len(sys.argv) > 2 else "NodeClass"
    plural = sys.argv[3] if len(sys.argv) > 3 else "nodeclasses"
    spec = convert(schema["properties"]["spec"], schema.get("$defs", {}))
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.eks.amazonaws.com",
            "annotations": {"keelson.dev/generated-from": "schemas/" + sys.argv[1].rsplit("/", 1)[-1]},
        },
        "spec": {
            "group": "eks.amazonaws.com",
            "scope": "Cluster",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }
    json.dump(crd, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
