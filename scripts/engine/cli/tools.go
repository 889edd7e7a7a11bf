//go:build tools

// Package tools pins the Pulumi CLI's main package so that go.mod/go.sum
// record every module it needs. pkg/v3's own go.mod has replace directives,
// so `go install pkg@version` refuses it; this wrapper repeats the one that
// matters (atotto/clipboard) in go.mod.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
