#!/usr/bin/env bash
# Plan benchmark against a real EKS API implementation: `keelson plan --target aws` for
# CLUSTERS clusters (default 200) held by moto's EKS server on loopback.
#
#   bench/aws-plan.sh            (CLUSTERS=200 CONCURRENCY=16 RUNS=5)
#
# Reports the wall time of a no-op plan, the EKS calls it made by operation (reads only:
# a no-op plan must make zero write calls), the median latency of one read call measured
# separately with boto3, and the ratio  wall / (read calls / concurrency x median latency),
# i.e. how close keelson gets to the ideal for its concurrency.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLUSTERS=${CLUSTERS:-200}
CONCURRENCY=${CONCURRENCY:-16}
RUNS=${RUNS:-5}
OUT=bench/out/aws-plan-$CLUSTERS
VENV=.venv
KEELSON=target/release/keelson

[[ -x $VENV/bin/moto_server ]] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install --quiet 'moto[server]>=5' awscli; }
cargo build --release --quiet --bin keelson

port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
sleep 2
export AWS_ENDPOINT_URL_EKS="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true KEELSON_TODAY=2026-11-23

rm -rf "$OUT"; mkdir -p "$OUT"
"$VENV/bin/python" - "$OUT" "$CLUSTERS" <<'PY'
import os, sys
out, n = sys.argv[1], int(sys.argv[2])
open(f"{out}/keelson.yaml", "w").write("apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata: {name: bench}\nspec:\n  stages: [{name: prod}]\n")
for i in range(n):
    d = f"{out}/clusters/c{i:04d}"
    os.makedirs(d)
    open(f"{d}/cluster.yaml", "w").write(f"""apiVersion: keelson.dev/v1alpha1
kind: Cluster
metadata: {{name: bench-{i:04d}}}
spec:
  region: us-east-1
  version: "1.34"
  stage: prod
  roleArn: arn:aws:iam::123456789012:role/eks-cluster
  vpc: {{subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]}}
  tags: {{team: t{i % 7}}}
""")
    open(f"{d}/nodegroups.yaml", "w").write("""apiVersion: keelson.dev/v1alpha1
kind: NodeGroup
metadata: {name: general}
spec:
  nodeRoleArn: arn:aws:iam::123456789012:role/eks-node
  subnetIds: [subnet-0a1b2c3d4e5f60001]
  instanceTypes: [m6i.large]
  scaling: {minSize: 1, maxSize: 4, desiredSize: 2}
""")
    if i % 4 == 0:
        open(f"{d}/fargate.yaml", "w").write("""apiVersion: keelson.dev/v1alpha1
kind: FargateProfile
metadata: {name: jobs}
spec:
  podExecutionRoleArn: arn:aws:iam::123456789012:role/fargate
  selectors: [{namespace: jobs}]
""")
PY

echo "==> creating $CLUSTERS clusters in moto" >&2
t0=$(date +%s.%N)
"$KEELSON" apply --repo "$OUT" --target aws --auto-approve --concurrency "$CONCURRENCY" >"$OUT/apply.log" 2>&1 || { tail -20 "$OUT/apply.log"; exit 1; }
t1=$(date +%s.%N)

times=()
for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    KEELSON_STATS=1 "$KEELSON" plan --repo "$OUT" --target aws --concurrency "$CONCURRENCY" --detailed-exitcode >"$OUT/plan.txt" 2>"$OUT/plan.err" || { echo "plan exited $?"; tail "$OUT/plan.txt" "$OUT/plan.err"; exit 1; }
    e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc -l)")
done
median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
best=$(printf '%s\n' "${times[@]}" | sort -g | head -1)
stats=$(grep '"eksCalls"' "$OUT/plan.err" | tail -1)

latency=$("$VENV/bin/python" - <<'PY'
import os, time, statistics, boto3
c = boto3.client("eks", endpoint_url=os.environ["AWS_ENDPOINT_URL_EKS"], region_name="us-east-1")
c.describe_cluster(name="bench-0000")
samples = []
for i in range(50):
    t = time.perf_counter(); c.describe_cluster(name=f"bench-{i % 20:04d}"); samples.append(time.perf_counter() - t)
print(f"{statistics.median(samples):.5f}")
PY
)

python3 - "$stats" "$median" "$best" "$latency" "$CONCURRENCY" "$CLUSTERS" "$(echo "$t1 - $t0" | bc -l)" <<'PY'
import json, sys
stats, median, best, lat, conc, n, setup = json.loads(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
calls = stats["eksCalls"]
writes = {k: v for k, v in calls.items() if not k.startswith(("Describe", "List"))}
reads = sum(v for k, v in calls.items() if k.startswith(("Describe", "List")))
ideal = reads / conc * lat
print(f"\naws plan benchmark: {n} clusters in moto, concurrency {conc}")
print(f"  setup (apply of the fleet to moto):  {setup:.1f} s")
print(f"  no-op plan wall time:                best {best:.3f} s, median {median:.3f} s")
print(f"  EKS calls of one plan:               {stats['total']} ({reads} reads, {sum(writes.values())} writes)")
for k in sorted(calls):
    print(f"    {k:32s} {calls[k]}")
print(f"  median read latency (boto3, moto):   {lat * 1000:.2f} ms")
print(f"  ideal (reads / concurrency x lat.):  {ideal:.3f} s")
print(f"  ratio wall / ideal:                  {median / ideal:.2f}")
if writes:
    sys.exit(f"a no-op plan made write calls: {writes}")
PY
