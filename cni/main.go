// Command multinet-cni is the CNI plugin the container runtime executes: a dumb pipe to the multinet
// agent. It reads the CNI environment and stdin, sends one request to the agent's unix socket, prints
// the agent's answer (a result in the request's CNI version, or a CNI error) and exits with 0 or 1.
// VERSION is answered here; `multinet-cni --version` prints the multinet release it belongs to. When nobody listens at the socket, ADD/CHECK/STATUS/GC wait up to
// agentWaitSeconds for the agent; DEL succeeds at once when the agent recorded nothing for the
// container. Every other decision is the agent's (agent/cni-server.ts owns the protocol).
package main

import (
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		// Runtimes pass no arguments; the agent and people do, to tell which release is installed.
		_, _ = os.Stdout.WriteString(VersionLine())
		return
	}
	env := Env{
		Command:     os.Getenv("CNI_COMMAND"),
		ContainerID: os.Getenv("CNI_CONTAINERID"),
		Netns:       os.Getenv("CNI_NETNS"),
		IfName:      os.Getenv("CNI_IFNAME"),
		Args:        os.Getenv("CNI_ARGS"),
		Path:        os.Getenv("CNI_PATH"),
	}
	var stdin io.Reader = os.Stdin
	if env.Command == "VERSION" {
		// `CNI_COMMAND=VERSION multinet-cni` typed at a terminal must not wait for input.
		if info, err := os.Stdin.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
			stdin = strings.NewReader("")
		}
	}
	ports := Ports{
		Stdin:     stdin,
		Stdout:    os.Stdout,
		Transport: UnixSocket{},
		Now:       time.Now,
		Sleep:     time.Sleep,
		Exists: func(path string) bool {
			_, err := os.Stat(path)
			return err == nil
		},
	}
	os.Exit(Run(env, ports))
}
