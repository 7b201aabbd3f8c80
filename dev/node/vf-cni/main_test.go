package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The plugin against a real network namespace and a real link (root: it moves links between namespaces),
// with a stand-in IPAM plugin that answers a fixed address.
func TestMovesTheDeviceIntoThePodAndBackWithItsAddresses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the vf plugin's test moves links between network namespaces: run it as root")
	}
	id := fmt.Sprintf("%x", os.Getpid()%0xffff)
	netns, device, peer := "mnvft"+id, "mnvf"+id+"d", "mnvf"+id+"p"
	must := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	must("netns", "add", netns)
	defer exec.Command("ip", "netns", "del", netns).Run()
	must("link", "add", device, "type", "veth", "peer", "name", peer)
	defer exec.Command("ip", "link", "del", peer).Run()
	mac, err := os.ReadFile(filepath.Join("/sys/class/net", device, "address"))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "ipam.log")
	ipamScript := "#!/bin/sh\necho \"$CNI_COMMAND\" >> " + log + "\n" +
		"[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"203.0.113.7/24\",\"gateway\":\"203.0.113.1\"}],\"routes\":[{\"dst\":\"198.51.100.0/24\",\"gw\":\"203.0.113.1\"}]}'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "fake-ipam"), []byte(ipamScript), 0o755); err != nil {
		t.Fatal(err)
	}
	e := env{command: "ADD", containerID: "c1", netns: "/run/netns/" + netns, ifName: "net1", path: bin}
	stdin := []byte(`{"cniVersion":"1.0.0","name":"vf-net","type":"vf","deviceID":"` + device + `","ipam":{"type":"fake-ipam"}}`)
	var conf netConf
	if err := json.Unmarshal(stdin, &conf); err != nil {
		t.Fatal(err)
	}
	result, err := add(e, conf, stdin)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(result)
	want := fmt.Sprintf(`"interfaces":[{"mac":"%s","name":"net1","sandbox":"/run/netns/%s"}],"ips":[{"address":"203.0.113.7/24","gateway":"203.0.113.1","interface":0}]`, strings.TrimSpace(string(mac)), netns)
	if !strings.Contains(string(out), want) {
		t.Fatalf("result %s, want %s", out, want)
	}
	if hostLinkExists(device) {
		t.Fatalf("%s is still on the host", device)
	}
	inside, err := exec.Command("ip", "-n", netns, "-o", "addr", "show", "dev", "net1").CombinedOutput()
	if err != nil || !strings.Contains(string(inside), "203.0.113.7/24") {
		t.Fatalf("net1 in the pod: %v: %s", err, inside)
	}
	routes, _ := exec.Command("ip", "-n", netns, "route").CombinedOutput()
	if !strings.Contains(string(routes), "198.51.100.0/24 via 203.0.113.1 dev net1") {
		t.Fatalf("routes in the pod: %s", routes)
	}
	// A second ADD of the same device fails: it is in a pod.
	if _, err := add(env{command: "ADD", netns: e.netns, ifName: "net2", path: bin}, conf, stdin); err == nil || !strings.Contains(err.Error(), "not a link on this node") {
		t.Fatalf("second ADD: %v", err)
	}
	e.command = "DEL"
	if err := del(e, conf, stdin); err != nil {
		t.Fatal(err)
	}
	if !hostLinkExists(device) {
		t.Fatalf("%s did not come back to the host", device)
	}
	back, _ := os.ReadFile(filepath.Join("/sys/class/net", device, "address"))
	if string(back) != string(mac) {
		t.Fatalf("the link that came back has MAC %s, not %s", back, mac)
	}
	// DEL again: nothing to move, the addresses are released again, no error.
	if err := del(e, conf, stdin); err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(log)
	if got := strings.Fields(string(calls)); strings.Join(got, ",") != "ADD,DEL,DEL" {
		t.Fatalf("IPAM calls %v", got)
	}
}

func TestAddWithoutADeviceSaysWhy(t *testing.T) {
	_, err := add(env{command: "ADD"}, netConf{CNIVersion: "1.0.0"}, nil)
	if err == nil || !strings.Contains(err.Error(), "no deviceID") {
		t.Fatalf("got %v", err)
	}
}
