// Package buildinfo holds the identity of this rotor build, set at link time.
package buildinfo

import "runtime"

// Version is rotor's version; `make build` sets it from git with -ldflags -X.
var Version = "v0.0.0-dev"

// GoVersion is the Go toolchain that built this binary.
func GoVersion() string { return runtime.Version() }
