// Package agents holds agentnode's demo agents and hands them to code that
// deploys them (the testnet, the load test): each agent is a directory with
// its Go source (a WASI preview 1 command), the built module agent.wasm and
// its manifest agent.toml, and this package embeds the modules and
// manifests so that a binary carries them.
//
//   - arxiv: answers a query from a bundled catalogue of real arXiv papers,
//     ranked by BM25 (see arxiv/CATALOGUE.md for the provenance).
//   - notary: SHA-256 of its input and a timestamp-free, signature-ready
//     digest, SHA-256("agentnet/notary/v1" || LP(input)).
//   - textstats: text statistics of its input as JSON.
//   - research: calls another agent through the agentnet host functions: finds
//     the arxiv agent by description, pays it from its budget, and returns its
//     answer with a summary line and a notary digest of the combined text.
//
// `make agents` rebuilds the modules reproducibly; the package's tests run
// every committed module through the real executor (enclave/wasm) and check
// that it matches a fresh build of its source. README.md describes the
// input and output of each agent.
package agents

import (
	"embed"
	"slices"
)

// The embedded agent directories: manifest and module of each.
//
//go:embed arxiv/agent.toml arxiv/agent.wasm
//go:embed notary/agent.toml notary/agent.wasm
//go:embed textstats/agent.toml textstats/agent.wasm
//go:embed research/agent.toml research/agent.wasm
var files embed.FS

// Names are the demo agents, in the order All returns them.
var Names = []string{"arxiv", "notary", "textstats", "research"}

// Agent is a demo agent ready to deploy: what app_path/<Name> holds.
type Agent struct {
	// Name is the agent's name, its directory and its manifest's name.
	Name string
	// Manifest is agent.toml (node/agentstore parses it).
	Manifest []byte
	// Module is agent.wasm.
	Module []byte
}

// All returns every demo agent. The byte slices are fresh copies, so
// callers may modify them.
func All() []Agent {
	out := make([]Agent, 0, len(Names))
	for _, name := range Names {
		a, _ := Get(name)
		out = append(out, a)
	}
	return out
}

// Get returns the demo agent called name, or false if there is none.
func Get(name string) (Agent, bool) {
	if !slices.Contains(Names, name) {
		return Agent{}, false
	}
	// ReadFile copies; it cannot fail for the names the go:embed patterns
	// above list, as the compiler refuses to build without those files.
	manifest, err1 := files.ReadFile(name + "/agent.toml")
	module, err2 := files.ReadFile(name + "/agent.wasm")
	if err1 != nil || err2 != nil {
		return Agent{}, false
	}
	return Agent{Name: name, Manifest: manifest, Module: module}, true
}
