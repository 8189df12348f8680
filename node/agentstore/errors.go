package agentstore

import "errors"

// Sentinel errors. Callers match them with errors.Is; messages wrap them
// with the detail.
var (
	// ErrBadManifest is returned when an agent.toml is over
	// MaxManifestSize, does not parse, has a key this version does not
	// know, or breaks a field rule (name, description, tags, limits).
	ErrBadManifest = errors.New("bad agent manifest")
	// ErrNotFound is returned when app_path holds no agent of the name
	// asked for.
	ErrNotFound = errors.New("no such agent in app_path")
	// ErrTooManyAgents is returned when a deploy would take the node past
	// MaxAgents deployed agents.
	ErrTooManyAgents = errors.New("too many agents")
	// ErrBadAgentDir is returned when an agent directory lacks its module
	// or manifest, or its manifest names another agent than the directory.
	ErrBadAgentDir = errors.New("bad agent directory")
)
