package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

const config = `{"cniVersion":"0.3.1","name":"multinet-cni-network","type":"multinet-cni","socketPath":"/run/x.sock","stateDir":"/state/","agentWaitSeconds":2}`

var addEnv = Env{Command: "ADD", ContainerID: "c1", Netns: "/var/run/netns/p", IfName: "eth0", Args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p", Path: "/opt/cni/bin"}

// fakeTransport answers each Send with the next of its answers (the last one repeats).
type fakeTransport struct {
	answers  []func() (Answer, error)
	sent     [][]byte
	sockets  []string
	versions []string
}

func (f *fakeTransport) Send(socketPath string, body []byte, cniVersion string, _ time.Duration) (Answer, error) {
	f.sent = append(f.sent, body)
	f.versions = append(f.versions, cniVersion)
	f.sockets = append(f.sockets, socketPath)
	next := f.answers[min(len(f.sent), len(f.answers))-1]
	return next()
}

func answer(body string) func() (Answer, error) {
	return func() (Answer, error) { return Answer{Status: 200, Body: []byte(body)}, nil }
}

func failure(err error) func() (Answer, error) {
	return func() (Answer, error) { return Answer{}, err }
}

var unreachable = failure(&UnreachableError{syscall.ENOENT})

type run struct {
	code     int
	out      string
	slept    time.Duration
	sent     [][]byte
	socket   []string
	versions []string
}

func runShim(t *testing.T, env Env, stdin string, exists map[string]bool, answers ...func() (Answer, error)) run {
	t.Helper()
	var out bytes.Buffer
	transport := &fakeTransport{answers: answers}
	clock := time.Unix(1000, 0)
	var slept time.Duration
	code := Run(env, Ports{
		Stdin:     strings.NewReader(stdin),
		Stdout:    &out,
		Transport: transport,
		Now:       func() time.Time { return clock },
		Sleep: func(d time.Duration) {
			clock = clock.Add(d)
			slept += d
		},
		Exists: func(path string) bool { return exists[path] },
	})
	return run{code, out.String(), slept, transport.sent, transport.sockets, transport.versions}
}

func decode(t *testing.T, text string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("not JSON: %q", text)
	}
	return v
}

func TestVersionIsAnsweredWithoutTheAgent(t *testing.T) {
	for stdin, want := range map[string]string{
		`{"cniVersion":"0.4.0"}`: "0.4.0",
		``:                       latestVersion,
		`{"cniVersion":"9.9.9"}`: latestVersion,
		`not json`:               latestVersion,
	} {
		r := runShim(t, Env{Command: "VERSION"}, stdin, nil)
		if r.code != 0 || len(r.sent) != 0 {
			t.Fatalf("VERSION with %q: code %d, %d requests", stdin, r.code, len(r.sent))
		}
		if r.out != `{"cniVersion":"`+want+`","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}`+"\n" {
			t.Fatalf("VERSION with %q printed %q", stdin, r.out)
		}
	}
}

func TestAddForwardsEnvAndConfigAndPrintsTheResult(t *testing.T) {
	result := `{"cniVersion":"0.3.1","ips":[{"address":"192.0.2.5/24","version":"4"}]}`
	r := runShim(t, addEnv, "\n"+config+"\n", nil, answer(`{"result":`+result+`}`))
	if r.code != 0 || r.out != result+"\n" {
		t.Fatalf("code %d, out %q", r.code, r.out)
	}
	if r.socket[0] != "/run/x.sock" || r.versions[0] != "0.3.1" {
		t.Fatalf("sent to %s with version %q", r.socket[0], r.versions[0])
	}
	var sent map[string]json.RawMessage
	if err := json.Unmarshal(r.sent[0], &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"command": `"ADD"`, "containerId": `"c1"`, "netns": `"/var/run/netns/p"`, "ifName": `"eth0"`,
		"args": `"K8S_POD_NAMESPACE=default;K8S_POD_NAME=p"`, "path": `"/opt/cni/bin"`, "config": config}
	for key, value := range want {
		if string(sent[key]) != value {
			t.Errorf("%s: sent %s, want %s", key, sent[key], value)
		}
	}
}

func TestTheVersionSentIsTheShims(t *testing.T) {
	for stdin, want := range map[string]string{
		`{"cniVersion":"0.4.0"}`: "0.4.0",
		`{"cniVersion":"9.9.9"}`: latestVersion,
		`{"name":"x"}`:           latestVersion,
	} {
		if r := runShim(t, addEnv, stdin, nil, answer(`{"result":null}`)); r.versions[0] != want {
			t.Errorf("%s: sent version %q, want %q", stdin, r.versions[0], want)
		}
	}
}

func TestTheConfigurationIsForwardedAsWritten(t *testing.T) {
	r := runShim(t, addEnv, `{ "cniVersion": "1.0.0", "name": "a<b>&c" }`, nil, answer(`{"result":null}`))
	var sent map[string]json.RawMessage
	if err := json.Unmarshal(r.sent[0], &sent); err != nil || string(sent["config"]) != `{"cniVersion":"1.0.0","name":"a<b>&c"}` {
		t.Fatalf("sent %s (%v)", r.sent[0], err)
	}
}

func TestCommandsWithoutResultPrintNothing(t *testing.T) {
	r := runShim(t, Env{Command: "DEL", ContainerID: "c1", IfName: "eth0"}, config, nil, answer(`{"result":null}`))
	if r.code != 0 || r.out != "" {
		t.Fatalf("code %d, out %q", r.code, r.out)
	}
}

func TestTheAgentsErrorIsPrintedAsIsWithExitCode1(t *testing.T) {
	agentError := `{"cniVersion":"0.3.1","code":7,"msg":"bad network","details":"x"}`
	r := runShim(t, addEnv, config, nil, answer(`{"error":`+agentError+`}`))
	if r.code != 1 || r.out != agentError+"\n" || len(r.sent) != 1 {
		t.Fatalf("code %d, out %q, %d requests", r.code, r.out, len(r.sent))
	}
}

func TestStdinThatIsNoJSONObjectIsADecodeFailure(t *testing.T) {
	for _, stdin := range []string{"", "[1]", "{", `"text"`} {
		r := runShim(t, addEnv, stdin, nil)
		if r.code != 1 || len(r.sent) != 0 || decode(t, r.out)["code"] != float64(codeDecodeFailure) {
			t.Fatalf("stdin %q: code %d, out %q", stdin, r.code, r.out)
		}
	}
}

func TestAnUnreachableAgentIsAwaitedThenReportedWithCode11(t *testing.T) {
	r := runShim(t, addEnv, config, nil, unreachable)
	if r.code != 1 || r.slept < 2*time.Second || r.slept > 2*time.Second+retryInterval {
		t.Fatalf("code %d, slept %s", r.code, r.slept)
	}
	got := decode(t, r.out)
	if got["code"] != float64(codeTryAgainLater) || got["cniVersion"] != "0.3.1" ||
		!strings.Contains(got["msg"].(string), "not reachable at /run/x.sock (waited 2 s)") {
		t.Fatalf("printed %q", r.out)
	}
}

func TestAnAgentWhoseBacklogStaysFullIsReportedAsOverloadedNotAway(t *testing.T) {
	r := runShim(t, addEnv, config, nil, failure(&UnreachableError{syscall.EAGAIN}))
	got := decode(t, r.out)
	msg, _ := got["msg"].(string)
	if r.code != 1 || r.slept < 2*time.Second || got["code"] != float64(codeTryAgainLater) ||
		!strings.Contains(msg, "is running but took no new connection for 2 s") || strings.Contains(msg, "is the multinet agent running") {
		t.Fatalf("code %d, slept %s, printed %q", r.code, r.slept, r.out)
	}
}

func TestStatusGivesUpWithCode50(t *testing.T) {
	r := runShim(t, Env{Command: "STATUS", Path: "/opt/cni/bin"}, config, nil, unreachable)
	if r.code != 1 || decode(t, r.out)["code"] != float64(codePluginNotAvailable) {
		t.Fatalf("code %d, out %q", r.code, r.out)
	}
}

func TestTheAgentComingBackIsUsed(t *testing.T) {
	r := runShim(t, addEnv, config, nil, unreachable, unreachable, answer(`{"result":{"cniVersion":"0.3.1"}}`))
	if r.code != 0 || len(r.sent) != 3 || r.slept != 2*retryInterval {
		t.Fatalf("code %d, %d requests, slept %s", r.code, len(r.sent), r.slept)
	}
}

func TestDelWithNothingCachedSucceedsAtOnce(t *testing.T) {
	del := Env{Command: "DEL", ContainerID: "c1", IfName: "eth0", Path: "/opt/cni/bin"}
	r := runShim(t, del, config, nil, unreachable)
	if r.code != 0 || r.out != "" || r.slept != 0 {
		t.Fatalf("code %d, out %q, slept %s", r.code, r.out, r.slept)
	}
	cached := map[string]bool{"/state/attachments/c1_eth0.json": true}
	r = runShim(t, del, config, cached, unreachable)
	if r.code != 1 || r.slept < 2*time.Second || decode(t, r.out)["code"] != float64(codeTryAgainLater) {
		t.Fatalf("cached: code %d, out %q, slept %s", r.code, r.out, r.slept)
	}
}

func TestARefusedRequestIsReportedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code float64
	}{
		{errors.New("the agent closed the connection without answering"), codeIOFailure},
		{&TimeoutError{time.Minute}, codeTryAgainLater},
	} {
		r := runShim(t, addEnv, config, nil, failure(tc.err))
		got := decode(t, r.out)
		if r.code != 1 || r.slept != 0 || len(r.sent) != 1 || got["code"] != tc.code ||
			!strings.Contains(got["msg"].(string), tc.err.Error()) || strings.Contains(got["msg"].(string), "running") {
			t.Fatalf("%v: code %d, out %q, slept %s", tc.err, r.code, r.out, r.slept)
		}
	}
}

func TestAnswersThatAreNoCNIReplyAreIOFailures(t *testing.T) {
	for _, a := range []Answer{{Status: 200, Body: []byte("<html>")}, {Status: 404, Body: []byte(`{"error":"POST /cni only"}`)}, {Status: 200, Body: []byte(`{}`)}} {
		r := runShim(t, addEnv, config, nil, func() (Answer, error) { return a, nil })
		if r.code != 1 || decode(t, r.out)["code"] != float64(codeIOFailure) {
			t.Fatalf("%d %q: code %d, out %q", a.Status, a.Body, r.code, r.out)
		}
	}
}

func TestAnAnswerItCannotReadNamesTheShimsAndTheAgentsVersions(t *testing.T) {
	// An agent of another release that moved its endpoint (as Multus v4.3.1's shim met a daemon without
	// /readyz): reported at once, naming both versions, not waited on.
	newer := Answer{Status: 404, Body: []byte(`{"error":"POST /v2/cni only"}`), AgentVersion: "9.9.9"}
	r := runShim(t, addEnv, config, nil, func() (Answer, error) { return newer, nil })
	msg, _ := decode(t, r.out)["msg"].(string)
	if r.code != 1 || r.slept != 0 || !strings.Contains(msg, "multinet-cni "+version+" (protocol "+protocol+")") || !strings.Contains(msg, "the agent is multinet 9.9.9") {
		t.Fatalf("code %d, slept %s, msg %q", r.code, r.slept, msg)
	}
	older := Answer{Status: 200, Body: []byte(`{"answer":{}}`)}
	r = runShim(t, addEnv, config, nil, func() (Answer, error) { return older, nil })
	msg, _ = decode(t, r.out)["msg"].(string)
	if r.code != 1 || !strings.Contains(msg, "multinet-cni "+version) || !strings.Contains(msg, "the agent names no version") {
		t.Fatalf("code %d, msg %q", r.code, msg)
	}
}

func TestAReplyFromAnAgentOfAnotherVersionIsPrintedAsIs(t *testing.T) {
	other := Answer{Status: 200, Body: []byte(`{"result":{"cniVersion":"0.3.1","ips":[]}}`), AgentVersion: "0.0.9"}
	r := runShim(t, addEnv, config, nil, func() (Answer, error) { return other, nil })
	if r.code != 0 || r.out != "{\"cniVersion\":\"0.3.1\",\"ips\":[]}\n" {
		t.Fatalf("code %d, out %q", r.code, r.out)
	}
}

func TestVersionLineNamesTheReleaseAndProtocol(t *testing.T) {
	if got := VersionLine(); got != "multinet-cni "+version+" protocol "+protocol+"\n" || protocol != "1" {
		t.Fatalf("%q", got)
	}
}

func TestSettingsFallBackToDefaults(t *testing.T) {
	s := ParseSettings([]byte(`{"cniVersion":7,"socketPath":"","stateDir":["x"],"agentWaitSeconds":-1,"requestTimeoutSeconds":"9"}`))
	if s != (Settings{latestVersion, defaultSocketPath, defaultStateDir, defaultAgentWait, defaultRequestTimeout}) {
		t.Fatalf("%+v", s)
	}
	s = ParseSettings([]byte(`{"cniVersion":"1.0.0","socketPath":"/s","stateDir":"/d","agentWaitSeconds":0.5,"requestTimeoutSeconds":0}`))
	if s != (Settings{"1.0.0", "/s", "/d", 500 * time.Millisecond, 0}) {
		t.Fatalf("%+v", s)
	}
}

func TestCacheFileNamesOnlyRecordsTheAgentCanWrite(t *testing.T) {
	if got := CacheFile("/var/lib/multinet//", "abc", "eth0"); got != "/var/lib/multinet/attachments/abc_eth0.json" {
		t.Fatal(got)
	}
	for _, key := range [][2]string{{"", "eth0"}, {"abc", ""}, {"../x", "eth0"}, {"abc", "a/b"}} {
		if got := CacheFile("/s", key[0], key[1]); got != "" {
			t.Fatalf("%q: %s", key, got)
		}
	}
}
