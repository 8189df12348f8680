package api

import "time"

// The JSON of the agent and network routes: POST /agent/deploy, GET
// /v1/agents, DELETE /v1/agents/{name}, POST /search, GET /v1/peers and
// POST /v1/agents/{peer}/{name}/call (whose answer is client.Receipt).

// DeployRequest is POST /agent/deploy. Agent deploys an agent already in
// the node's app_path by name (the seed's form); Manifest and Wasm upload
// one instead.
type DeployRequest struct {
	Agent string `json:"agent,omitempty"`
	// Manifest is the text of the agent's agent.toml.
	Manifest string `json:"manifest,omitempty"`
	// Wasm is the agent's module, hex.
	Wasm string `json:"wasm,omitempty"`
}

// DeployResponse says what a deploy or withdrawal did: Message is "Agent
// 'x' deployed successfully", "Agent 'x' already deployed", "Agent 'x'
// withdrawn" or "Agent 'x' already withdrawn".
type DeployResponse struct {
	Message string `json:"message"`
	Agent   Agent  `json:"agent"`
}

// Agent is an agent on this node.
type Agent struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	// Price is the price of a call in the payment token's atomic units, a
	// decimal string; "0" is free. For an agent priced by fuel it includes
	// MaxFuel at PricePerMFuel, paid up front.
	Price        string `json:"price"`
	ModuleSHA256 string `json:"module_sha256"`
	ModuleSize   int    `json:"module_size"`
	// Status is "deployed" or "withdrawn".
	Status string `json:"status"`
	// Timeout is the agent's own execution limit, when it has one.
	Timeout string `json:"timeout,omitempty"`
	// MaxFuel is the agent's fuel budget per run (agent.toml max_fuel), when
	// it has one.
	MaxFuel uint64 `json:"max_fuel,omitempty"`
	// PricePerMFuel is the agent's price per million fuel units, when it is
	// priced by fuel.
	PricePerMFuel uint64 `json:"price_per_mfuel,omitempty"`
	// Card describes the card the node advertises for the agent; absent
	// when p2p is off or the agent is withdrawn.
	Card *CardInfo `json:"card,omitempty"`
}

// CardInfo is the advertised card of an agent.
type CardInfo struct {
	Seq       uint64    `json:"seq"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Agent statuses.
const (
	AgentDeployed  = "deployed"
	AgentWithdrawn = "withdrawn"
)

// AgentList is GET /v1/agents.
type AgentList struct {
	Agents []Agent `json:"agents"`
}

// SearchRequest is POST /search.
type SearchRequest struct {
	// Description is what the agent should do, in words.
	Description string `json:"description"`
	// Limit bounds the agents returned. Default 10, at most 50.
	Limit int `json:"limit,omitempty"`
	// Cards asks for each agent's signed card, so the caller can verify it
	// itself.
	Cards bool `json:"cards,omitempty"`
}

// SearchResponse is the answer of POST /search: Message is "found N
// agents" or "no agent found" (the seed's words), Agents best first.
type SearchResponse struct {
	Message string       `json:"message"`
	Agents  []FoundAgent `json:"agents"`
}

// FoundAgent is an agent found in the network. Its card was verified by
// the node: signature, expiry, and attestation evidence under the node's
// peer_policy, bound to the peer's identity key.
type FoundAgent struct {
	PeerID      string   `json:"peer_id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Price       string   `json:"price"`
	// Asset, Network and PayTo are the payment terms of a priced agent.
	Asset   string `json:"asset,omitempty"`
	Network string `json:"network,omitempty"`
	PayTo   string `json:"pay_to,omitempty"`
	// Platform is the TEE the card's evidence comes from ("sim" is the
	// simulated one), Measurements what it measured.
	Platform     string            `json:"platform"`
	Measurements map[string]string `json:"measurements,omitempty"`
	Score        float64           `json:"score"`
	ModuleSHA256 string            `json:"module_sha256"`
	Addrs        []string          `json:"addrs"`
	ExpiresAt    time.Time         `json:"expires_at"`
	// Card is the signed card (a libp2p envelope), hex, when asked for.
	Card string `json:"card,omitempty"`
}

// PeersResponse is GET /v1/peers.
type PeersResponse struct {
	PeerID string `json:"peer_id"`
	// Addresses are this node's p2p addresses, ending in /p2p/<peer id>:
	// what other nodes list as bootstrap peers.
	Addresses []string `json:"addresses"`
	// RoutingTable is the number of peers in the DHT routing table.
	RoutingTable int    `json:"routing_table"`
	Peers        []Peer `json:"peers"`
}

// Peer is a connected peer.
type Peer struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"`
}

// CallRequest is POST /v1/agents/{peer}/{name}/call.
type CallRequest struct {
	Args []string `json:"args,omitempty"`
	// Stdin is base64 (standard encoding, padded).
	Stdin []byte `json:"stdin,omitempty"`
	// AttestResult asks the remote node for fresh evidence over the
	// result's commitment.
	AttestResult bool `json:"attest_result,omitempty"`
}

// Error codes of the agent and network routes.
const (
	CodeBadManifest     = "bad_manifest"
	CodeTooManyAgents   = "too_many_agents"
	CodeP2PDisabled     = "p2p_disabled"
	CodePeerUnreachable = "peer_unreachable"
	// CodeUntrustedPeer: the peer's evidence does not satisfy the node's
	// peer_policy.
	CodeUntrustedPeer = "untrusted_peer"
	// CodeVerificationFailed: the peer's answer did not verify (session
	// binding, commitment, signature, module).
	CodeVerificationFailed = "verification_failed"
	// CodeAgentsOnly: a network peer sent a module; this node runs only its
	// deployed agents for peers.
	CodeAgentsOnly = "agents_only"
)
