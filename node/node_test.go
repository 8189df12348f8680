package node_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/nodetest"
)

func TestParseConfigSeedKeysAndDefaults(t *testing.T) {
	c, err := node.ParseConfig([]byte(`
listening = "127.0.0.1:8080"
app_path = "/srv/agents"
executor_path = "/srv/cache"
data_dir = "/srv/data"
tee = "sim"
wasm_timeout = "2s"
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listening != "127.0.0.1:8080" || c.AppPath != "/srv/agents" || c.ExecutorPath != "/srv/cache" || c.WasmTimeout.Duration != 2*time.Second {
		t.Fatalf("config %+v", c)
	}
	if c.SessionTTL.Duration != time.Hour || c.LogLevel != "info" {
		t.Fatalf("defaults not filled: %+v", c)
	}
	d := node.Config{DataDir: "/d"}
	if err := d.Validate(); err != nil || d.AppPath != "/d/agents" || d.ExecutorPath != "/d/wasm-cache" || d.Listening != "127.0.0.1:3000" || d.TEE != "auto" {
		t.Fatalf("derived defaults: %+v %v", d, err)
	}
}

func TestParseConfigRejects(t *testing.T) {
	for name, src := range map[string]string{
		"unknown key":  `listenning = "x"`,
		"wrong type":   `max_sessions = "many"`,
		"bad duration": `wasm_timeout = "soon"`,
		"not TOML":     `= =`,
		"oversized":    strings.Repeat("#", node.MaxConfigSize+1),
	} {
		if _, err := node.ParseConfig([]byte(src)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	for name, c := range map[string]node.Config{
		"bad tee":         {DataDir: "/d", TEE: "sgx"},
		"bad listen":      {DataDir: "/d", Listening: "3000"},
		"negative":        {DataDir: "/d", MaxSessions: -1},
		"too much memory": {DataDir: "/d", WasmMemoryPages: 70000},
		"bad log level":   {DataDir: "/d", LogLevel: "loud"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`listening = "127.0.0.1:3000"` + "\n" + `tee = "sim"`))
	f.Add([]byte(`wasm_timeout = "1s"`))
	f.Add([]byte(`[x]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := node.ParseConfig(b)
		if err != nil {
			return
		}
		if c.DataDir == "" {
			c.DataDir = t.TempDir()
		}
		_ = c.Validate()
	})
}

func TestStartFailureClosesAndReports(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n, err := node.New(node.Config{Listening: ln.Addr().String(), DataDir: t.TempDir(), TEE: "sim"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("start on a busy port: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("close after failed start: %v", err)
	}
}

func TestNoHardwareTEEIsAClearError(t *testing.T) {
	n, err := node.New(node.Config{Listening: "127.0.0.1:0", DataDir: t.TempDir(), TEE: "auto"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Start(context.Background())
	if err == nil {
		n.Close()
		t.Skip("this machine has a TEE")
	}
	if !strings.Contains(err.Error(), "sim") {
		t.Fatalf("error does not name sim: %v", err)
	}
}

func TestIdentitySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := nodetest.Start(t, func(c *node.Config) { c.DataDir = dir })
	id := first.PeerID()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	second := nodetest.Start(t, func(c *node.Config) { c.DataDir = dir })
	if second.PeerID() != id {
		t.Fatalf("peer id changed across restart: %s -> %s", id, second.PeerID())
	}
}

func TestNonLoopbackNeedsToken(t *testing.T) {
	c := node.Config{DataDir: "/d", Listening: "0.0.0.0:3000"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "api_token") {
		t.Fatalf("public bind without token: %v", err)
	}
	c = node.Config{DataDir: "/d", Listening: "0.0.0.0:3000", APIToken: "0123456789abcdef"}
	if err := c.Validate(); err != nil {
		t.Fatalf("public bind with token: %v", err)
	}
	c = node.Config{DataDir: "/d", Listening: "[::1]:3000"}
	if err := c.Validate(); err != nil {
		t.Fatalf("loopback v6: %v", err)
	}
}
