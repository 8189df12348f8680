package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/agentnet/agentnode/enclave"
)

func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("keygen", stderr)
	out := fs.String("out", "identity.key", "where to write the identity key (libp2p protobuf format, mode 0600)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if _, err := os.Stat(*out); err == nil {
		fmt.Fprintf(stderr, "agentnode keygen: %s exists; refusing to overwrite an identity key\n", *out)
		return 1
	}
	id, err := enclave.LoadOrCreateIdentity(*out)
	if err != nil {
		fmt.Fprintf(stderr, "agentnode keygen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\npeer id: %s\n", *out, id.PeerID())
	return 0
}
