package bridge

import (
	"encoding/hex"
	"net/http"
	"time"

	"github.com/agentnet/agentnode/enclave"
	"github.com/agentnet/agentnode/node/activity"
	"github.com/agentnet/agentnode/node/api"
)

// uiRoutes mounts the status page (node/ui) under /ui/, behind the same
// guard as every route (token, rate limit); GET /ui redirects there.
func (s *Server) uiRoutes() {
	page := func(w http.ResponseWriter, r *http.Request) error {
		s.cfg.UI.ServeHTTP(w, r)
		return nil
	}
	s.handle("GET /ui/", page)
	s.handle("GET /ui", func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
		return nil
	})
}

// record adds a run to the node's activity: the agent (or the module's
// hash), who asked, how it ended, and the settled payment if any. A call
// from the network names its peer; a call on the HTTP bridge names none.
func (s *Server) record(call Call, job *enclave.Job, start time.Time, err error, payment *api.Payment) {
	if s.cfg.Activity == nil {
		return
	}
	e := activity.Event{Kind: activity.Served, Agent: job.Agent(), Peer: call.Peer, Outcome: activity.OK,
		Duration: time.Since(start), Payment: payment}
	if e.Agent == "" {
		h := job.ModuleHash()
		e.Module = hex.EncodeToString(h[:])
	}
	if err != nil {
		e.Outcome = errorFor(err).Code
	}
	s.cfg.Activity.Add(e)
}
