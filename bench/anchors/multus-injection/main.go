// multus-injection runs Multus' own code (pkg/types of the anchor's source) on device-network cases:
// for each case it loads the delegate as getKubernetesDelegate does for a NAD with a resourceName
// (LoadDelegateNetConf with the device ID the resource map gave) and builds the runtime config of its
// ADD (CreateCNIRuntimeConf), and prints the delegate's config and capability arguments. The anchor
// test copies it into the extracted Multus module and compares the output with multinet's fixture
// (test/fixtures/devices/multus-injection.json). Not part of multinet.
//
//	go run ./cmd/multinet-injection < cases.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"gopkg.in/k8snetworkplumbingwg/multus-cni.v4/pkg/types"
)

type input struct {
	Name         string          `json:"name"`
	Config       json.RawMessage `json:"config"`
	DeviceID     string          `json:"deviceID"`
	ResourceName string          `json:"resourceName"`
	Namespace    string          `json:"namespace"`
	Network      string          `json:"network"`
	ContainerID  string          `json:"containerID"`
	IfName       string          `json:"ifName"`
}

type output struct {
	Name           string                 `json:"name"`
	Config         json.RawMessage        `json:"config"`
	CapabilityArgs map[string]interface{} `json:"capabilityArgs"`
}

func main() {
	var cases []input
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out []output
	for _, c := range cases {
		element := &types.NetworkSelectionElement{Name: c.Network, Namespace: c.Namespace}
		delegate, err := types.LoadDelegateNetConf(c.Config, element, c.DeviceID, c.ResourceName)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name, err)
			os.Exit(1)
		}
		args := &skel.CmdArgs{ContainerID: c.ContainerID, Netns: "/var/run/netns/x", IfName: "eth0"}
		k8sArgs := &types.K8sArgs{}
		rt, _ := types.CreateCNIRuntimeConf(args, k8sArgs, c.IfName, &types.RuntimeConfig{}, delegate)
		out = append(out, output{Name: c.Name, Config: delegate.Bytes, CapabilityArgs: rt.CapabilityArgs})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
