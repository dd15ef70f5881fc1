#!/usr/bin/env python3
"""Split the keelson documents of a config repo into one file per document, by kind.

    split_docs.py REPO OUT [--format json] [--format yaml]

Every `*.yaml` / `*.yml` file below REPO (hidden files and directories skipped, as
keelson does) is read; each document whose apiVersion/kind is one of keelson's kinds
(keelson.dev/v1alpha1 Fleet, Cluster, ...; karpenter.sh/v1 NodePool; eks.amazonaws.com/v1
NodeClass) is written to OUT/<format>/<kind>/<n>.<format> for every --format given
(default json), where <kind> is the lower-cased kind, matching
schemas/<kind>.schema.json. Other documents (workload manifests) are counted and
skipped. OUT is emptied first.

This prepares the input of the check-jsonschema side of bench/validate.sh, which takes
single-document files. Needs ruamel.yaml (a dependency of check-jsonschema). Documents
are read with the pure-Python YAML 1.2 loader, the YAML version keelson reads.
"""

import argparse
import json
import os
import shutil
import sys

from ruamel.yaml import YAML

KEELSON_API = "keelson.dev/v1alpha1"
KINDS = {
    (KEELSON_API, "Fleet"),
    (KEELSON_API, "Cluster"),
    (KEELSON_API, "Addon"),
    (KEELSON_API, "NodeGroup"),
    (KEELSON_API, "FargateProfile"),
    (KEELSON_API, "AccessEntry"),
    (KEELSON_API, "PodIdentityAssociation"),
    ("karpenter.sh/v1", "NodePool"),
    ("eks.amazonaws.com/v1", "NodeClass"),
}


def yaml_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.endswith((".yaml", ".yml")):
                yield os.path.join(dirpath, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo")
    ap.add_argument("out")
    ap.add_argument("--format", choices=["json", "yaml"], action="append", dest="formats")
    args = ap.parse_args()
    formats = sorted(set(args.formats or ["json"]))

    loader = YAML(typ="safe", pure=True)
    dumper = YAML(typ="safe", pure=True)
    dumper.default_flow_style = False

    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)

    counts = {}
    skipped = 0
    files = 0
    for path in yaml_files(args.repo):
        files += 1
        with open(path, encoding="utf-8") as f:
            docs = list(loader.load_all(f))
        for doc in docs:
            if doc is None:
                continue
            key = (doc.get("apiVersion"), doc.get("kind")) if isinstance(doc, dict) else None
            if key not in KINDS:
                skipped += 1
                continue
            kind = key[1].lower()
            n = counts.get(kind, 0)
            counts[kind] = n + 1
            for fmt in formats:
                kind_dir = os.path.join(args.out, fmt, kind)
                if n == 0:
                    os.makedirs(kind_dir)
                target = os.path.join(kind_dir, f"{n:06d}.{fmt}")
                with open(target, "w", encoding="utf-8") as out:
                    if fmt == "json":
                        json.dump(doc, out, indent=2)
                        out.write("\n")
                    else:
                        dumper.dump(doc, out)

    total = sum(counts.values())
    print(
        f"split {total} keelson documents from {files} files into {args.out} "
        f"as {' and '.join(formats)} ({skipped} other documents skipped)"
    )
    for kind in sorted(counts):
        print(f"  {kind:24} {counts[kind]:6}")
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main())
