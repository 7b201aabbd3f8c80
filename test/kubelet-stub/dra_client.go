// The kubelet's side of a DRA driver's plugin socket, for tests: `kubelet-stub -dra-client -socket S`
// reads one call per line on stdin (JSON) and prints one answer per line (JSON), calling the plugin
// with grpc-go and the kubelet's own generated clients (k8s.io/kubelet pluginregistration/v1 and
// dra/v1), as the kubelet does: a plugin written without them is tested against them.
//
//	{"call": "getInfo"}
//	{"call": "notify", "registered": true, "error": ""}
//	{"call": "prepare", "claims": [{"namespace": "ns", "uid": "u", "name": "c"}]}
//	{"call": "unprepare", "claims": [...]}
//	{"call": "raw", "method": "/x.Y/Z"}   (an unknown method: the gRPC status comes back)
//
// Answers: {"result": ...} or {"code": <gRPC code>, "error": "..."}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	drapb "k8s.io/kubelet/pkg/apis/dra/v1"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type claimJSON struct {
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
	Name      string `json:"name"`
}

type callJSON struct {
	Call       string      `json:"call"`
	Registered bool        `json:"registered"`
	Error      string      `json:"error"`
	Claims     []claimJSON `json:"claims"`
	Method     string      `json:"method"`
}

func claimsOf(in []claimJSON) []*drapb.Claim {
	out := make([]*drapb.Claim, 0, len(in))
	for _, c := range in {
		out = append(out, &drapb.Claim{Namespace: c.Namespace, Uid: c.UID, Name: c.Name})
	}
	return out
}

func runDRAClient(socket string) int {
	conn, err := grpc.NewClient("unix:"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-stub: %v\n", err)
		return 1
	}
	defer conn.Close()
	registration := registerapi.NewRegistrationClient(conn)
	dra := drapb.NewDRAPluginClient(conn)
	out := json.NewEncoder(os.Stdout)
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		var call callJSON
		if err := json.Unmarshal(lines.Bytes(), &call); err != nil {
			fmt.Fprintf(os.Stderr, "kubelet-stub: bad call: %v\n", err)
			return 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var result any
		switch call.Call {
		case "getInfo":
			result, err = registration.GetInfo(ctx, &registerapi.InfoRequest{})
		case "notify":
			result, err = registration.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: call.Registered, Error: call.Error})
		case "prepare":
			result, err = dra.NodePrepareResources(ctx, &drapb.NodePrepareResourcesRequest{Claims: claimsOf(call.Claims)})
		case "unprepare":
			result, err = dra.NodeUnprepareResources(ctx, &drapb.NodeUnprepareResourcesRequest{Claims: claimsOf(call.Claims)})
		case "raw":
			err = conn.Invoke(ctx, call.Method, &registerapi.InfoRequest{}, &registerapi.PluginInfo{})
		default:
			err = fmt.Errorf("unknown call %q", call.Call)
		}
		cancel()
		if err != nil {
			s, _ := status.FromError(err)
			_ = out.Encode(map[string]any{"code": int(s.Code()), "error": s.Message()})
		} else {
			_ = out.Encode(map[string]any{"result": result})
		}
	}
	return 0
}
