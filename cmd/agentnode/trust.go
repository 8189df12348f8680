package main

import (
	"flag"

	"github.com/agentnet/agentnode/enclave/attest"
)

// trustFlags are the flags of every command that checks evidence: the
// policy a node must satisfy and the roots its evidence chains to.
type trustFlags struct {
	policy   string
	allowSim bool
	roots    multiFlag
}

// addTrustFlags registers --policy, --allow-sim and --roots on fs; what
// names the thing checked ("a node", "a receipt") in the help text.
func addTrustFlags(fs *flag.FlagSet, what string) *trustFlags {
	t := &trustFlags{}
	fs.StringVar(&t.policy, "policy", "", "policy file (TOML, docs/policy.md); default: genuine hardware, any measurement, no debug")
	fs.BoolVar(&t.allowSim, "allow-sim", false, "accept "+what+" on the simulated TEE (development only: it proves no hardware isolation)")
	fs.Var(&t.roots, "roots", "PEM trust anchors replacing the vendor roots: TDX root CA(s), or an AMD ASK+ARK bundle (repeatable)")
	return t
}

// load reads the policy and the roots, and returns the policy and the
// verifiers of every platform.
func (t *trustFlags) load() (*attest.Policy, attest.Verifiers, error) {
	policy, err := loadPolicy(t.policy, t.allowSim)
	if err != nil {
		return nil, nil, err
	}
	tr, err := loadRoots(t.roots)
	if err != nil {
		return nil, nil, err
	}
	vs, err := tr.verifiers()
	if err != nil {
		return nil, nil, err
	}
	return policy, vs, nil
}
