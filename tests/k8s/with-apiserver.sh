#!/usr/bin/env bash
# Runs a command with a real Kubernetes API server up: kube-apiserver and etcd built from
# their Go modules at the versions tests/k8s/go.mod pins, on loopback ports, with the real
# Karpenter NodePool CRD and a NodeClass CRD installed. The way controller-runtime's
# envtest runs them, without kubelets or controllers.
#
#   tests/k8s/with-apiserver.sh COMMAND [ARGS...]   # e.g. cargo test --test it kube_real
#   tests/k8s/with-apiserver.sh --build-only
#
# COMMAND runs with KEELSON_KUBECONFIG set to a kubeconfig with two contexts: `admin`
# (system:masters) and `reader` (read access like the built-in `view` role: not to Secrets
# or Nodes), and KEELSON_K8S_EXTRA_APIS naming the beta API turned on beyond 1.34's
# defaults. Both processes are stopped when COMMAND ends or the script fails.
#
# Needs go, openssl, curl and python3. Binaries are cached in
# ${KEELSON_K8S_CACHE:-~/.cache/keelson/k8s}/<kubernetes version>/ and rebuilt only when
# missing; Go's own build cache (~/.cache/go-build) makes a rebuild after a cache wipe cheap.
#
# The NodePool CRD is read from the sigs.k8s.io/karpenter module (version below) in Go's
# module cache, not copied into this repository. AWS publishes no CRD for EKS Auto Mode's
# eks.amazonaws.com/v1 NodeClass and IngressClassParams, so those are generated from
# keelson's own JSON Schemas (schemas/nodeclass.schema.json,
# schemas/ingressclassparams.schema.json) by nodeclass_crd.py.
set -euo pipefail

KARPENTER_VERSION=v1.14.1
READY_TIMEOUT_SECS=${KEELSON_K8S_READY_TIMEOUT:-180}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

fail() {
    echo "tests/k8s: FAILED: $*" >&2
    exit 1
}

for tool in go openssl curl python3; do
    command -v "$tool" >/dev/null || fail "prerequisite: \`$tool\` is not on PATH"
done

k8s_version=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$here/go.mod")
[[ -n $k8s_version ]] || fail "prerequisite: no k8s.io/kubernetes version in $here/go.mod"
bin=${KEELSON_K8S_CACHE:-$HOME/.cache/keelson/k8s}/$k8s_version
# Stamp the release into the binary as Kubernetes' own build does (GET /version, and the
# version the server reports itself as).
minor=${k8s_version#v1.}
minor=${minor%%.*}
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# Build one binary into the cache unless it is there. Timed, so that the CI log shows
# what a cold build costs.
build() {
    local name=$1 pkg=$2
    if [[ -x $bin/$name ]]; then
        echo "==> $name (kubernetes $k8s_version): cached in $bin"
        return 0
    fi
    mkdir -p "$bin"
    echo "==> building $name ($pkg, kubernetes $k8s_version) into $bin"
    local start=$SECONDS
    (cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$bin/$name.partial" "$pkg") ||
        fail "build step: go build $pkg (in $here) failed"
    mv "$bin/$name.partial" "$bin/$name"
    echo "==> built $name in $((SECONDS - start)) s"
}
build etcd ./etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
[[ ${1:-} == --build-only ]] && exit 0
[[ $# -gt 0 ]] || fail "usage: $0 COMMAND [ARGS...] | --build-only"

crd_dir=$(cd "$repo" && go mod download -json "sigs.k8s.io/karpenter@$KARPENTER_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("Dir", ""))') ||
    fail "build step: go mod download sigs.k8s.io/karpenter@$KARPENTER_VERSION"
nodepool_crd=$crd_dir/pkg/apis/crds/karpenter.sh_nodepools.yaml
[[ -f $nodepool_crd ]] || fail "build step: no NodePool CRD at $nodepool_crd"

work=$(mktemp -d "${TMPDIR:-/tmp}/keelson-k8s.XXXXXX")
pids=()
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        # Give each a few seconds to stop on SIGTERM, then make sure.
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ $rc -ne 0 && -d $work ]]; then
        echo "tests/k8s: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Credentials: a CA and a serving certificate for 127.0.0.1, a service-account signing
# key, and a static token file with an admin and a read-only user.
(
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
        -subj /CN=keelson-test-ca
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile san.ext -out server.crt
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
) >"$work/openssl.log" 2>&1 || fail "credentials step: openssl (log: $work/openssl.log)"
admin_token=$(openssl rand -hex 16)
reader_token=$(openssl rand -hex 16)
printf '%s,admin,admin,system:masters\n%s,reader,reader\n' "$admin_token" "$reader_token" >"$work/tokens.csv"

# One beta API that 1.34 does not serve by default, turned on so that objects can be
# written with a beta version (the managedFields signal); the discovery test knows.
extra_apis=storage.k8s.io/v1beta1

etcd_port=$(free_port)
etcd_peer_port=$(free_port)
api_port=$(free_port)

"$bin/etcd" -data-dir "$work/etcd" -client-url "http://127.0.0.1:$etcd_port" \
    -peer-url "http://127.0.0.1:$etcd_peer_port" >"$work/etcd.log" 2>&1 &
pids+=($!)

"$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$work/server.crt" --tls-private-key-file "$work/server.key" \
    --client-ca-file "$work/ca.crt" --token-auth-file "$work/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$work/sa.pub" --service-account-signing-key-file "$work/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 --cert-dir "$work/certs" \
    --enable-priority-and-fairness=false --profiling=false \
    --runtime-config "$extra_apis=true" \
    >"$work/kube-apiserver.log" 2>&1 &
api_pid=$!
pids+=("$api_pid")

server=https://127.0.0.1:$api_port
kcurl() {
    curl --silent --show-error --cacert "$work/ca.crt" -H "Authorization: Bearer $admin_token" "$@"
}

echo "==> waiting for kube-apiserver on $server (etcd on 127.0.0.1:$etcd_port)"
deadline=$((SECONDS + READY_TIMEOUT_SECS))
until [[ $(kcurl -o /dev/null -w '%{http_code}' "$server/readyz" 2>/dev/null) == 200 ]]; do
    if ! kill -0 "$api_pid" 2>/dev/null; then
        tail -20 "$work/kube-apiserver.log" >&2
        fail "start step: kube-apiserver on 127.0.0.1:$api_port exited (log above; etcd log: $work/etcd.log)"
    fi
    if ((SECONDS > deadline)); then
        tail -20 "$work/kube-apiserver.log" >&2
        fail "start step: kube-apiserver on 127.0.0.1:$api_port not ready within ${READY_TIMEOUT_SECS} s (GET /readyz)"
    fi
    sleep 0.5
done
version=$(kcurl "$server/version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["gitVersion"])')
echo "==> kube-apiserver $version ready after $((SECONDS - deadline + READY_TIMEOUT_SECS)) s"

# The reader: read access like the built-in `view` role (whose rules only the
# controller-manager's aggregation fills in, and none runs here), so not to Secrets or
# Nodes; and to NodePools and NodeClasses.
post_rbac() {
    local plural=$1 body=$2
    kcurl -X POST -H 'Content-Type: application/json' \
        "$server/apis/rbac.authorization.k8s.io/v1/$plural" -d "$body" \
        -o "$work/rbac.json" -w '%{http_code}' | grep -q '^201$' ||
        fail "setup step: RBAC $plural for the reader (response: $work/rbac.json)"
}
read_verbs='"verbs":["get","list","watch"]'
post_rbac clusterroles '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"keelson-test-reader"},"rules":[
  {"apiGroups":[""],"resources":["configmaps","pods","services","endpoints","namespaces","events","persistentvolumeclaims","serviceaccounts"],'"$read_verbs"'},
  {"apiGroups":["apps","batch","autoscaling","policy","networking.k8s.io","storage.k8s.io","discovery.k8s.io","resource.k8s.io","certificates.k8s.io","karpenter.sh","eks.amazonaws.com"],"resources":["*"],'"$read_verbs"'}]}'
post_rbac clusterrolebindings '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"keelson-test-reader"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"keelson-test-reader"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"reader"}]}'

python3 "$here/nodeclass_crd.py" "$repo/schemas/nodeclass.schema.json" >"$work/nodeclass-crd.json" ||
    fail "setup step: generating the NodeClass CRD from schemas/nodeclass.schema.json"
install_crd() {
    local file=$1 ctype=$2 name=$3
    kcurl -X POST -H "Content-Type: $ctype" --data-binary "@$file" \
        "$server/apis/apiextensions.k8s.io/v1/customresourcedefinitions" \
        -o "$work/crd-$name.json" -w '%{http_code}' | grep -q '^201$' ||
        fail "setup step: installing CRD $name from $file (response: $work/crd-$name.json)"
}
install_crd "$nodepool_crd" application/yaml nodepools.karpenter.sh
install_crd "$work/nodeclass-crd.json" application/json nodeclasses.eks.amazonaws.com
python3 "$here/nodeclass_crd.py" "$repo/schemas/ingressclassparams.schema.json" IngressClassParams ingressclassparams \
    >"$work/ingressclassparams-crd.json" ||
    fail "setup step: generating the IngressClassParams CRD from schemas/ingressclassparams.schema.json"
install_crd "$work/ingressclassparams-crd.json" application/json ingressclassparams.eks.amazonaws.com
for gv in karpenter.sh/v1 eks.amazonaws.com/v1; do
    until [[ $(kcurl -o /dev/null -w '%{http_code}' "$server/apis/$gv") == 200 ]]; do
        ((SECONDS < deadline + 60)) || fail "setup step: $gv not served after installing its CRD"
        sleep 0.2
    done
done
echo "==> CRDs installed: NodePool (sigs.k8s.io/karpenter $KARPENTER_VERSION), NodeClass and IngressClassParams (generated from keelson's schemas)"

ca=$(base64 -w0 <"$work/ca.crt")
cat >"$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: real
    cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
  - name: admin
    user: {token: "$admin_token"}
  - name: reader
    user: {token: "$reader_token"}
contexts:
  - name: admin
    context: {cluster: real, user: admin}
  - name: reader
    context: {cluster: real, user: reader}
current-context: admin
EOF
export KEELSON_KUBECONFIG=$work/kubeconfig
export KEELSON_K8S_VERSION=$k8s_version
export KEELSON_K8S_EXTRA_APIS=$extra_apis
export KEELSON_KARPENTER_VERSION=$KARPENTER_VERSION
export KEELSON_NODEPOOL_CRD=$nodepool_crd

"$@"
