// Command multinet-spawner starts processes for the multinet agent, which keeps it as its child: the
// agent's delegate plugins (and the tools it runs) are forked by this small process instead of by the
// agent's big Node.js one, whose fork copies page tables that grow with its memory. It is a dumb
// executor: one JSON request per line on stdin (run a file with args, env and stdin; kill a run's
// process group), one JSON reply per line on stdout (exit code or signal, stdout, stderr).
// lib/spawner-protocol.ts owns the protocol.
//
// Everything it starts dies with the agent: this process asks for SIGTERM when its parent dies
// (PR_SET_PDEATHSIG), and then, or when its stdin ends, SIGKILLs the process group of every run still
// going and exits; each run also gets SIGKILL should this process die first.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The agent started it: when the agent's thread goes, SIGTERM (handled below, like stdin's end).
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
		fmt.Fprintf(os.Stderr, "multinet-spawner: prctl(PR_SET_PDEATHSIG): %v\n", errno)
		os.Exit(1)
	}
	s := New(os.Stdout)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGHUP)
	// An interactive ^C is the agent's to handle: it decides whether its runs go on.
	signal.Ignore(syscall.SIGINT)
	go func() {
		<-signals
		s.KillAll()
		os.Exit(0)
	}()
	if err := s.Serve(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "multinet-spawner: %v\n", err)
		s.KillAll()
		os.Exit(2)
	}
	s.KillAll()
}
