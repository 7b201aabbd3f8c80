// vf is the CNI plugin of multinet's local node for its stand-in VFs (test harness, not part of
// multinet): the part sriov-cni plays. ADD moves the host link named by the config's deviceID (which
// multinet, like Multus, injects from the device the kubelet allocated) into the pod's network namespace
// under the requested interface name, and configures the addresses and routes of the delegated IPAM
// plugin ("ipam" in the config); DEL moves it back to the node under its own name and releases the
// addresses. Links are moved with iproute2's ip (and nsenter), which the node has; standard library
// only otherwise.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

var supportedVersions = []string{"0.4.0", "1.0.0", "1.1.0"}

type netConf struct {
	CNIVersion    string          `json:"cniVersion"`
	Name          string          `json:"name"`
	DeviceID      string          `json:"deviceID"`
	IPAM          json.RawMessage `json:"ipam"`
	RuntimeConfig struct {
		DeviceID string `json:"deviceID"`
	} `json:"runtimeConfig"`
}

type cniError struct {
	Code int
	Msg  string
}

func (e *cniError) Error() string { return e.Msg }

func fail(code int, format string, args ...any) error {
	return &cniError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

type ipamIP struct {
	Address string `json:"address"`
	Gateway string `json:"gateway,omitempty"`
}

type route struct {
	Dst string `json:"dst"`
	GW  string `json:"gw,omitempty"`
}

type ipamResult struct {
	IPs    []ipamIP        `json:"ips"`
	Routes []route         `json:"routes"`
	DNS    json.RawMessage `json:"dns,omitempty"`
}

type env struct {
	command, containerID, netns, ifName, path string
}

func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// inNetns runs ip inside the pod's network namespace.
func inNetns(netns string, args ...string) error {
	return run("nsenter", append([]string{"--net=" + netns, "ip"}, args...)...)
}

// ipam runs the delegated IPAM plugin with the same config and environment (libcni's invoke.DelegateAdd).
func ipam(e env, conf netConf, stdin []byte, command string) ([]byte, error) {
	var typed struct {
		Type string `json:"type"`
	}
	if len(conf.IPAM) == 0 || json.Unmarshal(conf.IPAM, &typed) != nil || typed.Type == "" {
		return nil, nil
	}
	var plugin string
	for _, dir := range filepath.SplitList(e.path) {
		if info, err := os.Stat(filepath.Join(dir, typed.Type)); err == nil && !info.IsDir() {
			plugin = filepath.Join(dir, typed.Type)
			break
		}
	}
	if plugin == "" {
		return nil, fail(7, "vf: IPAM plugin %q not found in CNI_PATH %s", typed.Type, e.path)
	}
	cmd := exec.Command(plugin)
	cmd.Env = append(os.Environ(), "CNI_COMMAND="+command)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var plugErr struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		}
		if json.Unmarshal(stdout.Bytes(), &plugErr) == nil && plugErr.Msg != "" {
			return nil, &cniError{Code: plugErr.Code, Msg: "vf: IPAM " + typed.Type + ": " + plugErr.Msg}
		}
		return nil, fail(999, "vf: IPAM %s %s failed: %v: %s", typed.Type, command, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func deviceOf(conf netConf) string {
	if conf.DeviceID != "" {
		return conf.DeviceID
	}
	return conf.RuntimeConfig.DeviceID
}

func hostLinkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

func add(e env, conf netConf, stdin []byte) (map[string]any, error) {
	device := deviceOf(conf)
	if device == "" {
		return nil, fail(7, "vf: the config has no deviceID: is the NAD annotated with k8s.v1.cni.cncf.io/resourceName?")
	}
	if !hostLinkExists(device) {
		return nil, fail(11, "vf: device %s is not a link on this node (is it in another pod?)", device)
	}
	macBytes, err := os.ReadFile(filepath.Join("/sys/class/net", device, "address"))
	if err != nil {
		return nil, fail(5, "vf: reading the address of %s: %v", device, err)
	}
	mac := strings.TrimSpace(string(macBytes))
	var result ipamResult
	raw, err := ipam(e, conf, stdin, "ADD")
	if err != nil {
		return nil, err
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &result); err != nil {
			return nil, fail(6, "vf: the IPAM result does not parse: %v", err)
		}
	}
	undo := func() {
		_ = inNetns(e.netns, "link", "set", "dev", e.ifName, "down")
		_ = inNetns(e.netns, "link", "set", "dev", e.ifName, "name", device)
		_ = inNetns(e.netns, "link", "set", "dev", device, "netns", fmt.Sprint(os.Getpid()))
		if raw != nil {
			_, _ = ipam(e, conf, stdin, "DEL")
		}
	}
	steps := [][]string{
		{"link", "set", "dev", device, "down"},
		{"link", "set", "dev", device, "netns", e.netns},
	}
	for _, step := range steps {
		if err := run("ip", step...); err != nil {
			undo()
			return nil, fail(5, "vf: moving %s into the pod: %v", device, err)
		}
	}
	inPod := [][]string{{"link", "set", "dev", device, "name", e.ifName}}
	for _, ip := range result.IPs {
		inPod = append(inPod, []string{"addr", "add", ip.Address, "dev", e.ifName})
	}
	inPod = append(inPod, []string{"link", "set", "dev", e.ifName, "up"})
	for _, r := range result.Routes {
		args := []string{"route", "add", r.Dst, "dev", e.ifName}
		if r.GW != "" {
			args = []string{"route", "add", r.Dst, "via", r.GW, "dev", e.ifName}
		}
		inPod = append(inPod, args)
	}
	for _, step := range inPod {
		if err := inNetns(e.netns, step...); err != nil {
			undo()
			return nil, fail(5, "vf: configuring %s as %s in the pod: %v", device, e.ifName, err)
		}
	}
	ips := []map[string]any{}
	for _, ip := range result.IPs {
		entry := map[string]any{"address": ip.Address, "interface": 0}
		if ip.Gateway != "" {
			entry["gateway"] = ip.Gateway
		}
		if conf.CNIVersion == "0.4.0" {
			if addr, _, err := net.ParseCIDR(ip.Address); err == nil && addr.To4() == nil {
				entry["version"] = "6"
			} else {
				entry["version"] = "4"
			}
		}
		ips = append(ips, entry)
	}
	out := map[string]any{
		"cniVersion": conf.CNIVersion,
		"interfaces": []map[string]any{{"name": e.ifName, "mac": mac, "sandbox": e.netns}},
		"ips":        ips,
	}
	if len(result.Routes) > 0 {
		out["routes"] = result.Routes
	}
	if len(result.DNS) > 0 {
		out["dns"] = json.RawMessage(result.DNS)
	}
	return out, nil
}

// del moves the device back to the node under its own name and releases its addresses; what is already
// done (the link is back, the namespace is gone) is not an error.
func del(e env, conf netConf, stdin []byte) error {
	device := deviceOf(conf)
	if device != "" && !hostLinkExists(device) && e.netns != "" {
		if _, err := os.Stat(e.netns); err == nil {
			if inNetns(e.netns, "link", "show", "dev", e.ifName) == nil {
				steps := [][]string{
					{"link", "set", "dev", e.ifName, "down"},
					{"addr", "flush", "dev", e.ifName},
					{"link", "set", "dev", e.ifName, "name", device},
					{"link", "set", "dev", device, "netns", fmt.Sprint(os.Getpid())},
				}
				for _, step := range steps {
					if err := inNetns(e.netns, step...); err != nil {
						return fail(5, "vf: moving %s (%s) back to the node: %v", e.ifName, device, err)
					}
				}
			}
		}
	}
	_, err := ipam(e, conf, stdin, "DEL")
	return err
}

func check(e env, conf netConf) error {
	if err := inNetns(e.netns, "link", "show", "dev", e.ifName); err != nil {
		return fail(5, "vf: %s is not in the pod: %v", e.ifName, err)
	}
	return nil
}

func main() {
	e := env{
		command:     os.Getenv("CNI_COMMAND"),
		containerID: os.Getenv("CNI_CONTAINERID"),
		netns:       os.Getenv("CNI_NETNS"),
		ifName:      os.Getenv("CNI_IFNAME"),
		path:        os.Getenv("CNI_PATH"),
	}
	stdin, _ := io.ReadAll(os.Stdin)
	var conf netConf
	_ = json.Unmarshal(stdin, &conf)
	var out any
	var err error
	switch e.command {
	case "VERSION":
		out = map[string]any{"cniVersion": "1.1.0", "supportedVersions": supportedVersions}
	case "ADD":
		out, err = add(e, conf, stdin)
	case "DEL":
		err = del(e, conf, stdin)
	case "CHECK":
		err = check(e, conf)
	case "STATUS", "GC":
	default:
		err = fail(4, "vf: unknown CNI_COMMAND %q", e.command)
	}
	if err != nil {
		var ce *cniError
		if !errors.As(err, &ce) {
			ce = &cniError{Code: 999, Msg: err.Error()}
		}
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"cniVersion": conf.CNIVersion, "code": ce.Code, "msg": ce.Msg})
		os.Exit(1)
	}
	if out != nil {
		_ = json.NewEncoder(os.Stdout).Encode(out)
	}
}
