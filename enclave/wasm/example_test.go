package wasm_test

import (
	"context"
	"fmt"
	"log"

	"github.com/agentnet/agentnode/enclave/wasm"
	"github.com/agentnet/agentnode/enclave/wasm/wasmtest"
)

// A node compiles an agent once and runs it for each request.
func Example() {
	ctx := context.Background()
	e, err := wasm.New(ctx, wasm.Config{}) // defaults: 16 MiB memory, 5 s, 1 MiB stdout
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close(ctx)

	m, err := e.Compile(ctx, wasmtest.EchoArgs)
	if err != nil {
		log.Fatal(err)
	}
	res, err := e.Run(ctx, m, wasm.Input{Args: []string{"hello", "agent"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q exit %d\n", res.Stdout, res.ExitCode)

	_, err = e.Compile(ctx, wasmtest.UnknownImport)
	fmt.Println(err)
	// Output:
	// "hello agent\n" exit 0
	// compile module: invalid module: imports env.launch_missiles, which this node does not provide
}
