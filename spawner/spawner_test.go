package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// session is a Spawner served over pipes, as the agent drives it.
type session struct {
	t       *testing.T
	in      *io.PipeWriter
	replies *bufio.Scanner
	s       *Spawner
	served  chan error
}

func start(t *testing.T) *session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	replies := bufio.NewScanner(outR)
	replies.Buffer(nil, 16*1024*1024)
	served := make(chan error, 1)
	ready := make(chan *Spawner, 1)
	go func() { ready <- New(outW) }()
	ss := &session{t: t, in: inW, replies: replies, served: served}
	var h hello
	ss.next(&h)
	if h.Protocol != protocolVersion || h.Pid != os.Getpid() {
		t.Fatalf("hello = %+v, want protocol %d and pid %d", h, protocolVersion, os.Getpid())
	}
	ss.s = <-ready
	go func() { served <- ss.s.Serve(inR) }()
	t.Cleanup(func() {
		ss.s.KillAll()
		inW.Close()
		outR.Close()
	})
	return ss
}

func (ss *session) send(line string) {
	ss.t.Helper()
	if _, err := io.WriteString(ss.in, line+"\n"); err != nil {
		ss.t.Fatal(err)
	}
}

func (ss *session) next(into any) {
	ss.t.Helper()
	if !ss.replies.Scan() {
		ss.t.Fatalf("no reply: %v", ss.replies.Err())
	}
	if err := json.Unmarshal(ss.replies.Bytes(), into); err != nil {
		ss.t.Fatalf("reply %q: %v", ss.replies.Text(), err)
	}
}

func (ss *session) run(id uint64, file string, args []string, env map[string]string, stdin string) {
	ss.t.Helper()
	body, _ := json.Marshal(request{ID: id, Op: "run", File: file, Args: args, Env: env, Stdin: stdin})
	ss.send(string(body))
}

func (ss *session) reply() reply {
	ss.t.Helper()
	var r reply
	ss.next(&r)
	return r
}

func sh(script string) (string, []string) { return "/bin/sh", []string{"-c", script} }

func TestRunGivesExitCodeOutputAndFeedsStdin(t *testing.T) {
	ss := start(t)
	file, args := sh(`cat; echo "to stderr" >&2; exit 3`)
	ss.run(7, file, args, nil, `{"cniVersion":"1.0.0"}`)
	r := ss.reply()
	if r.ID != 7 || r.Code == nil || *r.Code != 3 || r.Signal != "" || r.Error != "" {
		t.Fatalf("reply = %+v, want id 7, code 3", r)
	}
	if r.Stdout != `{"cniVersion":"1.0.0"}` || r.Stderr != "to stderr\n" {
		t.Fatalf("stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
}

func TestRunPassesExactlyTheGivenEnvironment(t *testing.T) {
	ss := start(t)
	ss.run(1, "/usr/bin/env", nil, map[string]string{"CNI_COMMAND": "ADD", "MULTINET_DELEGATE_OF": "/state"}, "")
	r := ss.reply()
	if r.Stdout != "CNI_COMMAND=ADD\nMULTINET_DELEGATE_OF=/state\n" {
		t.Fatalf("env = %q", r.Stdout)
	}
}

func TestRunOfAMissingFileSaysWhy(t *testing.T) {
	ss := start(t)
	ss.run(2, "/nonexistent/plugin", nil, nil, "")
	r := ss.reply()
	if r.ID != 2 || r.Code != nil || !strings.Contains(r.Error, "cannot execute /nonexistent/plugin") {
		t.Fatalf("reply = %+v", r)
	}
}

func TestAnUnknownOpOrABusyIdIsAnsweredWithAnError(t *testing.T) {
	ss := start(t)
	ss.send(`{"id":3,"op":"fly"}`)
	if r := ss.reply(); r.ID != 3 || !strings.Contains(r.Error, `unknown op "fly"`) {
		t.Fatalf("reply = %+v", r)
	}
	file, args := sh("sleep 5")
	ss.run(4, file, args, nil, "")
	ss.run(4, file, args, nil, "")
	if r := ss.reply(); r.ID != 4 || !strings.Contains(r.Error, "already running") {
		t.Fatalf("reply = %+v", r)
	}
	ss.send(`{"id":4,"op":"kill"}`)
	if r := ss.reply(); r.ID != 4 || r.Signal != "SIGKILL" {
		t.Fatalf("reply = %+v", r)
	}
}

func TestABrokenLineEndsServe(t *testing.T) {
	ss := start(t)
	ss.send(`{"id":`)
	ss.in.Close()
	if err := <-ss.served; err == nil || !strings.Contains(err.Error(), "reading a request") {
		t.Fatalf("Serve = %v", err)
	}
}

// gone tells whether a process has ended: no longer there, or a zombie.
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	text := string(stat)
	return strings.HasPrefix(text[strings.LastIndexByte(text, ')')+2:], "Z")
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPid waits for a pid file a started script writes.
func readPid(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if text, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(text), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(text)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKillEndsTheRunsProcessGroupGrandchildrenIncluded(t *testing.T) {
	ss := start(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	file, args := sh(`sleep 100 & echo $! >"$0"; wait`)
	ss.run(5, file, append(args, pidFile), nil, "")
	grandchild := readPid(t, pidFile)
	ss.send(`{"id":5,"op":"kill"}`)
	r := ss.reply()
	if r.ID != 5 || r.Code != nil || r.Signal != "SIGKILL" {
		t.Fatalf("reply = %+v", r)
	}
	waitGone(t, grandchild, "the run's background sleep")
	// A kill for a run that is over touches nothing.
	ss.send(`{"id":5,"op":"kill"}`)
}

func TestOutputIsCappedAndThePipeDrained(t *testing.T) {
	ss := start(t)
	file, args := sh(fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x; echo done >&2", maxOutputBytes+100000))
	ss.run(6, file, args, nil, "")
	r := ss.reply()
	if len(r.Stdout) != maxOutputBytes || r.Stderr != "done\n" || r.Code == nil || *r.Code != 0 {
		t.Fatalf("stdout %d bytes, stderr %q, code %v", len(r.Stdout), r.Stderr, r.Code)
	}
}

func TestRunsGoOnSideBySide(t *testing.T) {
	ss := start(t)
	dir := t.TempDir()
	// Each run waits for the file the next one writes: they finish only if all run at once.
	const n = 10
	for i := 0; i < n; i++ {
		file, args := sh(`touch "$0/$1"; while [ ! -e "$0/$2" ]; do sleep 0.01; done; echo "$1"`)
		ss.run(uint64(100+i), file, append(args, dir, strconv.Itoa(i), strconv.Itoa((i+1)%n)), nil, "")
	}
	seen := map[uint64]string{}
	for i := 0; i < n; i++ {
		r := ss.reply()
		seen[r.ID] = r.Stdout
	}
	for i := 0; i < n; i++ {
		if seen[uint64(100+i)] != fmt.Sprintf("%d\n", i) {
			t.Fatalf("replies = %v", seen)
		}
	}
}

func TestKillAllEndsEveryRunAndRefusesNewOnes(t *testing.T) {
	ss := start(t)
	file, args := sh("sleep 100")
	ss.run(8, file, args, nil, "")
	// The run is registered before its reply can come; wait until it has a pid.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ss.s.mu.Lock()
		started := ss.s.runs[8] != nil && ss.s.runs[8].pid != 0
		ss.s.mu.Unlock()
		if started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not start")
		}
	}
	ss.s.KillAll()
	if r := ss.reply(); r.ID != 8 || r.Signal != "SIGKILL" {
		t.Fatalf("reply = %+v", r)
	}
	ss.run(9, file, args, nil, "")
	if r := ss.reply(); r.ID != 9 || !strings.Contains(r.Error, "stopping") {
		t.Fatalf("reply = %+v", r)
	}
}

// built compiles this package's command into a temp dir.
func built(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "multinet-spawner")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process runs the command with a stdin the test holds open (its end never signals anything) and
// returns the hello of the spawner it runs.
func process(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, *bufio.Scanner, hello) {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(out)
	var h hello
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &h) != nil || h.Protocol != protocolVersion {
		t.Fatalf("no hello: %q", lines.Text())
	}
	return in, lines, h
}

// sleeper starts a run that writes its pid and sleeps, and returns that pid.
func sleeper(t *testing.T, in io.Writer) int {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	body, _ := json.Marshal(request{ID: 1, Op: "run", File: "/bin/sh", Args: []string{"-c", `echo $$ >"$0"; exec sleep 100`, pidFile}})
	if _, err := in.Write(append(body, '\n')); err != nil {
		t.Fatal(err)
	}
	return readPid(t, pidFile)
}

func TestRunsDieWhenTheParentOfTheSpawnerDies(t *testing.T) {
	bin := built(t)
	// A parent that forks the spawner and waits (not exec: the trailing command keeps sh there).
	parent := exec.Command("/bin/sh", "-c", `"$0"; :`, bin)
	in, _, h := process(t, parent)
	plugin := sleeper(t, in)
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// stdin stays open here: only PR_SET_PDEATHSIG can have told the spawner.
	waitGone(t, h.Pid, "the spawner")
	waitGone(t, plugin, "its run")
}

func TestRunsDieWhenTheSpawnerIsKilled(t *testing.T) {
	bin := built(t)
	spawner := exec.Command(bin)
	in, _, h := process(t, spawner)
	plugin := sleeper(t, in)
	if err := syscall.Kill(h.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, plugin, "its run")
}

func TestStdinsEndEndsTheSpawnerAndItsRuns(t *testing.T) {
	bin := built(t)
	spawner := exec.Command(bin)
	in, _, h := process(t, spawner)
	plugin := sleeper(t, in)
	in.Close()
	waitGone(t, h.Pid, "the spawner")
	waitGone(t, plugin, "its run")
}
