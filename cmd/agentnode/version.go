package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/agentnet/agentnode/node"
)

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if code, ok := parseFlags(newFlagSet("version", stderr), args); !ok {
		return code
	}
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = " " + s.Value
			}
		}
	}
	fmt.Fprintf(stdout, "agentnode %s%s %s %s/%s\n", node.Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
