//go:build tools

// Package tools records the kwok command for `go mod tidy`.
package tools

import _ "sigs.k8s.io/kwok/pkg/kwok/cmd"
