//go:build tools

// Package tools pins the Node.js language host so that go.mod/go.sum record
// every module it needs.
//
// Why sdk/v3 v3.68.0 and not the pulumi-language-nodejs of v3.259.0: since
// v3.69 the language host is its own module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) that is
// never tagged, and the module proxy serves none of its pseudo-versions
// (403 "This module version is not available"). v3.68.0 is the last release
// where it is a package of sdk/v3, which the proxy does serve. The CLI talks
// to it over gRPC and falls back for the RPCs it lacks (see README.md).
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
