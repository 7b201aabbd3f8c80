// Command multinet-spawner starts processes for the multinet agent, which keeps it as its child: the
// agent's delegate plugins (and the tools it runs) are forked by this small process instead of by the
// agent's big Node.js one, whose fork copies page tables that grow with its memory. It is a dumb
// executor: length-prefixed frames on stdin (run a file with args, env and stdin; kill a run's process
// group), one frame per run on stdout (exit code or signal, stdout, stderr). lib/spawner-protocol.ts
// owns the protocol.
//
// Everything it starts dies with the agent: this process asks for SIGTERM when its parent dies
// (PR_SET_PDEATHSIG), and then, or when its stdin ends, SIGKILLs the process group of every run still
// going and exits; each run also gets SIGKILL should this process die first.
package main

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// The agent started it: when the agent's thread goes, SIGTERM (handled below, like stdin's end).
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
		os.Stderr.WriteString("multinet-spawner: prctl(PR_SET_PDEATHSIG): " + errno.Error() + "\n")
		os.Exit(1)
	}
	// Its live heap is a few KiB a run: collect at +10% instead of Go's default +100% (and 4 MB at least).
	// Its memory counts as the agent's.
	debug.SetGCPercent(10)
	// An interactive ^C is the agent's to handle: it decides whether its runs go on.
	signal.Ignore(syscall.SIGINT)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGHUP)
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)
	s := New(os.Stdout)
	go func() {
		for range children {
			s.Reap()
		}
	}()
	go func() {
		<-stop
		s.KillAll()
		os.Exit(0)
	}()
	// Frames are read through the runtime's poller: a read blocked in the kernel would hold a thread,
	// and the runtime's monitor would keep waking to hand its processor over.
	// Only a pipe (the agent's): a terminal's file is shared with the shell that started it.
	stdin := os.Stdin
	var st syscall.Stat_t
	if syscall.Fstat(0, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO && syscall.SetNonblock(0, true) == nil {
		stdin = os.NewFile(0, "stdin")
	}
	if err := s.Serve(stdin); err != nil {
		os.Stderr.WriteString("multinet-spawner: " + err.Error() + "\n")
		s.KillAll()
		os.Exit(2)
	}
	s.KillAll()
}
