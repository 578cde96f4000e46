//go:build tools

// Package tools records the commands that cluster/build-binaries compiles, so
// that `go mod tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "github.com/coredns/coredns/coremain"
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
