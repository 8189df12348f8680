package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/agentnet/agentnode/agents"
	"github.com/agentnet/agentnode/node"
	"github.com/agentnet/agentnode/node/client"
)

// Process mode limits.
const (
	// stopGrace is how long a node process has to stop after SIGINT
	// before it is killed.
	stopGrace = 15 * time.Second
	// logTail is how much of a failed process's log an error quotes.
	logTail = 2048
)

// processConfig is the node.toml of a node process: the keys of
// docs/config.md that a testnet node sets.
type processConfig struct {
	Listening    string   `toml:"listening"`
	DataDir      string   `toml:"data_dir"`
	ExecutorPath string   `toml:"executor_path"`
	TEE          string   `toml:"tee"`
	LogLevel     string   `toml:"log_level"`
	P2PListen    []string `toml:"p2p_listen"`
	Bootstrap    []string `toml:"bootstrap,omitempty"`
	P2PTTL       string   `toml:"p2p_ttl"`
	RPCURL       string   `toml:"rpc_url"`
	Network      string   `toml:"network"`
	Asset        string   `toml:"asset"`
	TokenName    string   `toml:"token_name"`
	TokenVersion string   `toml:"token_version"`
	PayTo        string   `toml:"pay_to"`
	GasKeyFile   string   `toml:"gas_key_file"`
	PayerKeyFile string   `toml:"payer_key_file"`
	MaxPrice     uint64   `toml:"max_price"`
	// PaymentTimeout is the authorization window, a minute above the
	// chain's lead (see Config.maxLead).
	PaymentTimeout string `toml:"payment_timeout"`
}

// process is a node running as `agentnode run`.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	logPath string
	client  *client.Client
	info    processInfo
}

type processInfo struct {
	peerID, url string
	addrs       []string
}

// startProcess writes the node's config file and starts `agentnode run`
// on it, then waits until its bridge answers.
func (t *Testnet) startProcess(ctx context.Context, s nodeSpec) (member, error) {
	listen := s.listen
	if strings.HasSuffix(listen, ":0") {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		listen = fmt.Sprintf("127.0.0.1:%d", port)
	}
	pc := processConfig{
		Listening: listen, DataDir: s.keys.dir, ExecutorPath: t.cfg.CacheDir, TEE: "sim",
		LogLevel: t.cfg.LogLevel, P2PListen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: s.bootstrap, P2PTTL: "testnet",
		RPCURL: t.dev.RPCURL, Network: string(t.dev.Network), Asset: t.dev.Token, TokenName: t.dev.TokenName, TokenVersion: t.dev.TokenVersion,
		PayTo: address(s.keys.gas).Hex(), GasKeyFile: filepath.Join(s.keys.dir, gasKeyFile),
		PayerKeyFile: filepath.Join(s.keys.dir, payerKeyFile), MaxPrice: t.cfg.MaxPrice, PaymentTimeout: t.cfg.PaymentTimeout.String(),
	}
	path := filepath.Join(s.keys.dir, configFile)
	if err := writeConfig(path, s.name, pc); err != nil {
		return nil, err
	}
	logPath := filepath.Join(s.keys.dir, logFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "\n==== %s: %s run --config %s\n", time.Now().Format(time.RFC3339), t.cfg.Binary, path)
	cmd := exec.Command(t.cfg.Binary, "run", "--config", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", t.cfg.Binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	url := "http://" + listen
	if p.client, err = client.New(client.Config{NodeURL: url, Verifiers: verifiers()}); err != nil {
		return nil, errors.Join(err, p.close())
	}
	if err := p.waitUp(ctx); err != nil {
		return nil, errors.Join(err, p.close())
	}
	ni, err := p.client.NodeInfo(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("read node info: %w", err), p.close())
	}
	p.info = processInfo{peerID: ni.PeerID, url: url, addrs: ni.Addresses}
	return p, nil
}

// writeConfig writes a node.toml and reads it back as the node will, so
// that a key the node does not know fails here, with the file's name.
func writeConfig(path, name string, pc processConfig) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s of an agentnode testnet. While the testnet (its chain and nodes 0 and 1) runs,\n# `agentnode run --config %s` starts this node again, after a kill -9 say.\n", name, path)
	if err := toml.NewEncoder(&b).Encode(pc); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	cfg, err := node.LoadConfig(path)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// waitUp waits until the node's bridge answers /healthz; a process that
// exits first fails with the end of its log.
func (p *process) waitUp(ctx context.Context) error {
	for {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		err := p.client.Health(hctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("node process exited (%v): %s", p.waitErr, tail(p.logPath))
		case <-ctx.Done():
			return fmt.Errorf("wait for the node's bridge: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(readyPoll):
		}
	}
}

func (p *process) describe() (string, string, []string, int) {
	return p.info.peerID, p.info.url, p.info.addrs, p.cmd.Process.Pid
}

// waitReady polls the node's routing table (GET /v1/peers): the node
// refreshes it on its own.
func (p *process) waitReady(ctx context.Context, minPeers int) error {
	have := 0
	for {
		resp, err := p.client.Peers(ctx)
		if err == nil {
			if have = resp.RoutingTable; have >= minPeers {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("node process exited (%v): %s", p.waitErr, tail(p.logPath))
		case <-ctx.Done():
			return fmt.Errorf("wait for %d routing table peers (have %d): %w", minPeers, have, ctx.Err())
		case <-time.After(readyPoll):
		}
	}
}

func (p *process) deploy(ctx context.Context, a agents.Agent) error {
	_, err := p.client.Upload(ctx, a.Manifest, a.Module)
	return err
}

// advertised cannot be told from outside the process: the search that
// follows it waits instead.
func (p *process) advertised(context.Context) error { return nil }

func (p *process) rss() int64 { return processRSS(p.cmd.Process.Pid) }

// close asks the process to stop (SIGINT, what Ctrl-C sends) and kills it
// after stopGrace. A process that exited non-zero is an error.
func (p *process) close() error {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = p.cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("node process %d did not stop within %v of SIGINT: killed", p.cmd.Process.Pid, stopGrace)
		}
	}
	var exit *exec.ExitError
	if errors.As(p.waitErr, &exit) && !exit.Success() && !signalled(exit) {
		return fmt.Errorf("node process %d: %v: %s", p.cmd.Process.Pid, p.waitErr, tail(p.logPath))
	}
	return nil
}

// freePort asks the kernel for a free loopback port. Another program may
// take it before the node listens; the node then fails to start, clearly.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of a log file, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > logTail {
		b = b[len(b)-logTail:]
	}
	return strings.TrimSpace(string(b))
}
