package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// The CNI versions multinet speaks; lib/cni/version.ts is the source of truth (a jest test compares them).
var supportedVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

const latestVersion = "1.1.0"

// version is the multinet release this shim belongs to: set at build time from package.json
// (scripts/build-shim.sh: -ldflags -X main.version=...); "dev" in a plain `go build`.
var version = "dev"

// protocol is the shim<->agent wire protocol this shim speaks (lib/cni/request.ts: wireProtocol): POST
// /cni with wireRequest, answered with wireReply. A variable only so that tests can build a shim of
// another protocol (-X main.protocol=2); the agent refuses protocols it does not speak, naming both sides.
var protocol = "1"

// VersionLine is what `multinet-cni --version` prints: the agent reads it to report the shim it finds on
// its node (agent/shim-installer.ts parses it).
func VersionLine() string {
	return "multinet-cni " + version + " protocol " + protocol + "\n"
}

// Defaults for settings the generated config always carries; lib/cni/request.ts has the same ones.
const (
	defaultSocketPath     = "/run/multinet/agent.sock"
	defaultStateDir       = "/var/lib/multinet"
	defaultAgentWait      = 30 * time.Second
	defaultRequestTimeout = 600 * time.Second
	retryInterval         = 200 * time.Millisecond
)

// CNI error codes the shim itself can give (the CNI spec's "Error" section).
const (
	codeIOFailure          = 5
	codeDecodeFailure      = 6
	codeTryAgainLater      = 11
	codePluginNotAvailable = 50
)

// Env is what the runtime passes in the environment.
type Env struct {
	Command, ContainerID, Netns, IfName, Args, Path string
}

// Ports is what the shim needs from the outside world, so tests can pass their own.
type Ports struct {
	Stdin     io.Reader
	Stdout    io.Writer
	Transport Transport
	Now       func() time.Time
	Sleep     func(time.Duration)
	// Exists tells whether a file exists (the agent's attachment cache record).
	Exists func(path string) bool
}

// Settings are the few keys of the network configuration the shim reads itself.
type Settings struct {
	CniVersion     string
	SocketPath     string
	StateDir       string
	AgentWait      time.Duration
	RequestTimeout time.Duration
}

// wireRequest is the body of POST /cni (lib/cni/request.ts: CniRequest).
type wireRequest struct {
	Command     string          `json:"command"`
	ContainerID string          `json:"containerId"`
	Netns       string          `json:"netns"`
	IfName      string          `json:"ifName"`
	Args        string          `json:"args"`
	Path        string          `json:"path"`
	Config      json.RawMessage `json:"config"`
}

// wireReply is the agent's answer (lib/cni/request.ts: CniReply): the result to print, already in the
// request's CNI version, or the CNI error to print.
type wireReply struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

func isSupported(version string) bool {
	for _, v := range supportedVersions {
		if v == version {
			return true
		}
	}
	return false
}

// ParseSettings reads the shim's settings from the configuration; a missing or ill-typed key gets
// its default (the agent, not the shim, judges the configuration).
func ParseSettings(config []byte) Settings {
	s := Settings{
		CniVersion:     latestVersion,
		SocketPath:     defaultSocketPath,
		StateDir:       defaultStateDir,
		AgentWait:      defaultAgentWait,
		RequestTimeout: defaultRequestTimeout,
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(config, &fields) != nil {
		return s
	}
	text := func(key string, into *string) {
		var v string
		if json.Unmarshal(fields[key], &v) == nil && v != "" {
			*into = v
		}
	}
	seconds := func(key string, into *time.Duration) {
		var v float64
		if json.Unmarshal(fields[key], &v) == nil && v >= 0 && v < 1e9 {
			*into = time.Duration(v * float64(time.Second))
		}
	}
	var version string
	text("cniVersion", &version)
	if isSupported(version) {
		s.CniVersion = version
	}
	text("socketPath", &s.SocketPath)
	text("stateDir", &s.StateDir)
	seconds("agentWaitSeconds", &s.AgentWait)
	seconds("requestTimeoutSeconds", &s.RequestTimeout)
	return s
}

// CacheFile is where the agent records what ADD attached for (containerID, ifName), as in
// lib/cni/request.ts attachmentCacheFile; "" when no such record can exist.
func CacheFile(stateDir, containerID, ifName string) string {
	if containerID == "" || ifName == "" || strings.ContainsRune(containerID+ifName, '/') {
		return ""
	}
	return strings.TrimRight(stateDir, "/") + "/attachments/" + containerID + "_" + ifName + ".json"
}

func writeError(out io.Writer, version string, code int, msg, details string) int {
	body, _ := json.Marshal(struct {
		CniVersion string `json:"cniVersion"`
		Code       int    `json:"code"`
		Msg        string `json:"msg"`
		Details    string `json:"details,omitempty"`
	}{version, code, msg, details})
	_, _ = out.Write(append(body, '\n'))
	return 1
}

func writeVersion(out io.Writer, stdin []byte) int {
	version := ParseSettings(stdin).CniVersion
	body, _ := json.Marshal(struct {
		CniVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}{version, supportedVersions})
	_, _ = out.Write(append(body, '\n'))
	return 0
}

// Run is the shim: one request to the agent, its answer on stdout; returns the exit code.
func Run(env Env, ports Ports) int {
	stdin, err := io.ReadAll(ports.Stdin)
	if err != nil {
		return writeError(ports.Stdout, latestVersion, codeIOFailure, "cannot read the network configuration from stdin: "+err.Error(), "")
	}
	if env.Command == "VERSION" {
		return writeVersion(ports.Stdout, stdin)
	}
	settings := ParseSettings(stdin)
	trimmed := bytes.TrimSpace(stdin)
	if !json.Valid(trimmed) || trimmed[0] != '{' {
		return writeError(ports.Stdout, settings.CniVersion, codeDecodeFailure, "the network configuration on stdin is not a JSON object", "")
	}
	var encoded bytes.Buffer
	encoder := json.NewEncoder(&encoded)
	encoder.SetEscapeHTML(false) // the configuration as the runtime wrote it, only without its whitespace
	if err := encoder.Encode(wireRequest{env.Command, env.ContainerID, env.Netns, env.IfName, env.Args, env.Path, trimmed}); err != nil {
		return writeError(ports.Stdout, settings.CniVersion, codeDecodeFailure, "cannot encode the request: "+err.Error(), "")
	}
	body := encoded.Bytes()
	deadline := ports.Now().Add(settings.AgentWait)
	for {
		answer, err := ports.Transport.Send(settings.SocketPath, body, settings.CniVersion, settings.RequestTimeout)
		if err == nil {
			return printReply(ports.Stdout, settings, answer)
		}
		var unreachable *UnreachableError
		if !errors.As(err, &unreachable) {
			code := codeIOFailure
			var timeout *TimeoutError
			if errors.As(err, &timeout) {
				code = codeTryAgainLater
			}
			return writeError(ports.Stdout, settings.CniVersion, code, "multinet agent at "+settings.SocketPath+": "+err.Error(), "")
		}
		if env.Command == "DEL" {
			record := CacheFile(settings.StateDir, env.ContainerID, env.IfName)
			if record == "" || !ports.Exists(record) {
				// The agent recorded no attachment for this container: there is nothing to clean.
				return 0
			}
		}
		remaining := deadline.Sub(ports.Now())
		if remaining <= 0 {
			code := codeTryAgainLater
			if env.Command == "STATUS" {
				code = codePluginNotAvailable
			}
			waited := strconv.FormatFloat(settings.AgentWait.Seconds(), 'f', -1, 64)
			msg := "the multinet agent is not reachable at " + settings.SocketPath + " (waited " + waited + " s): is the multinet agent running on this node?"
			if unreachable.Busy() {
				msg = "the multinet agent at " + settings.SocketPath + " is running but took no new connection for " + waited + " s (its accept backlog is full): it is overloaded"
			}
			return writeError(ports.Stdout, settings.CniVersion, code, msg, unreachable.Error())
		}
		ports.Sleep(min(retryInterval, remaining))
	}
}

// versions names both sides, for a message about an answer the shim cannot read: usually a shim and an
// agent of different releases (Multus v4.3.1's shim waited on an endpoint its older daemon did not have).
func versions(agentVersion string) string {
	agent := "the agent names no version (a multinet agent from before version headers, or not a multinet agent)"
	if agentVersion != "" {
		agent = "the agent is multinet " + agentVersion
	}
	return "this shim is multinet-cni " + version + " (protocol " + protocol + "), " + agent
}

func printReply(out io.Writer, settings Settings, answer Answer) int {
	var reply wireReply
	if answer.Status != 200 || json.Unmarshal(answer.Body, &reply) != nil || (reply.Result == nil && reply.Error == nil) {
		excerpt := string(answer.Body)
		if len(excerpt) > 300 {
			excerpt = excerpt[:300]
		}
		return writeError(out, settings.CniVersion, codeIOFailure,
			"the multinet agent at "+settings.SocketPath+" answered HTTP "+strconv.Itoa(answer.Status)+
				" with something that is not a CNI reply: "+versions(answer.AgentVersion), excerpt)
	}
	if len(reply.Error) > 0 && string(reply.Error) != "null" {
		_, _ = out.Write(append(reply.Error, '\n'))
		return 1
	}
	if len(reply.Result) > 0 && string(reply.Result) != "null" {
		_, _ = out.Write(append(reply.Result, '\n'))
	}
	return 0
}
