#!/usr/bin/env bash
# Builds one pinned Go tool into $TOOLS from its module on the Go module proxy,
# or mirrors an upstream artifact that a Go module holds:
#   TOOLS=DIR scripts/build-tool.sh TOOL VERSION [SECOND_VERSION]
# (the Makefile's testbed rules say which tools take a second version, and why).
# Modules whose go.mod points `replace` at sibling folders of their repository
# (which are not in the module zip) are copied writable and pointed at the
# published versions of those siblings instead.
set -euo pipefail

tool=$1 version=$2
: "${TOOLS:?TOOLS must name the folder the binaries go to}"
mkdir -p "$TOOLS"
export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
src_root="$TOOLS/../src"

# Copies MODULE@VERSION to a fresh writable folder and prints its path.
writable_copy() {
    local module=$1 module_version=$2 dir
    dir=$(go mod download -json "$module@$module_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    local dest="$src_root/${module//\//_}@$module_version"
    rm -rf "$dest"
    mkdir -p "$src_root"
    cp -r "$dir" "$dest"
    chmod -R u+w "$dest"
    echo "$dest"
}

case $tool in
kubernetes)
    # kube-apiserver, kube-controller-manager, kube-scheduler and kubectl.
    # k8s.io/kubernetes tags v1.X.Y; its staging modules are published as v0.X.Y.
    staging_version=v0.${version#v1.}
    src=$(writable_copy k8s.io/kubernetes "$version")
    cd "$src"
    rm -f go.work go.work.sum
    rm -rf vendor
    edits=()
    for module in $(sed -n 's|^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*|\1|p' go.mod); do
        case $module in
        k8s.io/sample-cli-plugin|k8s.io/sample-controller)
            edits+=(-dropreplace="$module" -droprequire="$module") ;;
        *)
            edits+=(-dropreplace="$module" -require="$module@$staging_version") ;;
        esac
    done
    go mod edit "${edits[@]}"
    go build -trimpath -o "$TOOLS/" \
        -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version" \
        ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler ./cmd/kubectl
    ;;
etcd)
    src=$(writable_copy go.etcd.io/etcd/server/v3 "$version")
    cd "$src"
    edits=()
    for module in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/client/v3 go.etcd.io/etcd/pkg/v3; do
        edits+=(-dropreplace="$module" -require="$module@$version")
    done
    go mod edit "${edits[@]}" -toolchain=none
    go build -trimpath -ldflags "-s -w" -o "$TOOLS/etcd" .
    ;;
kwok)
    CGO_ENABLED=0 GOBIN="$TOOLS" go install -trimpath -ldflags "-s -w" \
        "sigs.k8s.io/kwok/cmd/kwok@$version"
    # kwok's fast stages (Pods Running, Nodes Ready) are data in the module.
    dir=$(go mod download -json "sigs.k8s.io/kwok@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    rm -rf "$TOOLS/kwok-stages"
    mkdir -p "$TOOLS/kwok-stages"
    for stage in node/fast node/heartbeat-with-lease pod/fast; do
        find "$dir/kustomize/stage/$stage" -maxdepth 1 -name '*.yaml' ! -name kustomization.yaml \
            -exec cp {} "$TOOLS/kwok-stages/" \;
    done
    chmod u+w "$TOOLS"/kwok-stages/*.yaml
    ;;
pulumi)
    src=$(writable_copy github.com/pulumi/pulumi/pkg/v3 "$version")
    cd "$src"
    go mod edit -dropreplace=github.com/pulumi/pulumi/sdk/v3 -require="github.com/pulumi/pulumi/sdk/v3@$version"
    go build -trimpath -o "$TOOLS/pulumi" \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" ./cmd/pulumi
    ;;
pulumi-language-python)
    # The only Go module that holds the Python language host is an old SDK's;
    # the script it runs the program with comes from the SDK of the CLI
    # (third argument), whose Python package the program uses.
    exec_version=$3
    src=$(writable_copy github.com/pulumi/pulumi/sdk/v3 "$version")
    cd "$src"
    go build -trimpath -o "$TOOLS/" \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
        ./python/cmd/pulumi-language-python
    exec_dir=$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@$exec_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    install -m 755 "$exec_dir/python/cmd/pulumi-language-python-exec" "$TOOLS/"
    ;;
pulumi-resource-kubernetes)
    module_version=$3
    src=$(writable_copy github.com/pulumi/pulumi-kubernetes/provider/v4 "$module_version")
    cd "$src"
    sdk_version=$(sed -n 's|^\tgithub.com/pulumi/pulumi-kubernetes/sdk/v4 \(v[^ ]*\)$|\1|p' go.mod)
    go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
        -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$sdk_version"
    (cd cmd/pulumi-resource-kubernetes && VERSION=${version#v} go generate .)
    go build -trimpath -o "$TOOLS/" \
        -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${version#v}" \
        ./cmd/pulumi-resource-kubernetes
    ;;
mirror-argocd)
    # The release's install manifest, byte for byte, as a local mirror.
    dir=$(go mod download -json "github.com/argoproj/argo-cd/v3@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    mkdir -p "$TOOLS/mirror/argocd-$version"
    install -m 644 "$dir/manifests/install.yaml" "$TOOLS/mirror/argocd-$version/install.yaml"
    ;;
mirror-cert-manager)
    # The chart as its release tool publishes it: the module holds it with
    # version and appVersion left as v0.0.0 for that tool to fill in.
    dir=$(go mod download -json "github.com/cert-manager/cert-manager@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    dest="$TOOLS/mirror/cert-manager-$version"
    rm -rf "$dest"
    mkdir -p "$TOOLS/mirror"
    cp -r "$dir/deploy/charts/cert-manager" "$dest"
    chmod -R u+w "$dest"
    sed -i "s/^version: v0.0.0$/version: $version/; s/^appVersion: v0.0.0$/appVersion: $version/" "$dest/Chart.yaml"
    grep -qx "version: $version" "$dest/Chart.yaml"
    ;;
*)
    echo "build-tool.sh: unknown tool '$tool'" >&2
    exit 2
    ;;
esac
rm -rf "${src:-/nonexistent}"
