// vf-device-plugin is the device plugin of multinet's local node (test harness, not part of multinet):
// it advertises links the harness made on the node (macvlan children of its uplink, standing for SR-IOV
// VFs) as devices of one extended resource, through the kubelet's device plugin API (k8s.io/kubelet
// deviceplugin v1beta1), the way sriov-network-device-plugin advertises VFs. A device's ID is its link's
// name (the "vf" CNI plugin moves the link of that name into the pod). At each Allocate it writes the
// Device Information Spec's device plugin file for every device it hands out, and removes its files
// when it stops. It registers again when the kubelet restarts (the kubelet wipes the plugin dir).
//
//	vf-device-plugin -plugin-dir /var/lib/kubelet/device-plugins -resource multinet.dev/vf \
//	  -devices mn0v0,mn0v1 -device-info-dir /var/run/k8s.cni.cncf.io/devinfo -node localhost
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

type plugin struct {
	pluginapi.UnimplementedDevicePluginServer
	resource      string
	devices       []string
	deviceInfoDir string
	stop          chan struct{}
	mu            sync.Mutex
	written       map[string]bool
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s vf-device-plugin: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func (p *plugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{}, nil
}

// ListAndWatch sends the devices once (all healthy: a link in a pod is still a working device) and
// keeps the stream open until the plugin stops.
func (p *plugin) ListAndWatch(_ *pluginapi.Empty, stream pluginapi.DevicePlugin_ListAndWatchServer) error {
	var devs []*pluginapi.Device
	for _, id := range p.devices {
		devs = append(devs, &pluginapi.Device{ID: id, Health: pluginapi.Healthy})
	}
	if err := stream.Send(&pluginapi.ListAndWatchResponse{Devices: devs}); err != nil {
		return err
	}
	select {
	case <-stream.Context().Done():
	case <-p.stop:
	}
	return nil
}

// pciAddress is a made-up PCI address for the n-th device (bus 0xfe): the stand-in links are no PCI
// functions, but the Device Information Spec describes VFs by their PCI address.
func (p *plugin) pciAddress(id string) string {
	for i, d := range p.devices {
		if d == id {
			return fmt.Sprintf("0000:fe:%02x.%d", i/8, i%8)
		}
	}
	return "0000:fe:ff.7"
}

func (p *plugin) infoPath(id string) string {
	name := fmt.Sprintf("%s-%s-device.json", strings.ReplaceAll(p.resource, "/", "-"), strings.ReplaceAll(id, "/", "-"))
	return filepath.Join(p.deviceInfoDir, "dp", name)
}

// writeDeviceInfo writes the device plugin's Device Information file of one device (atomically).
func (p *plugin) writeDeviceInfo(id string) error {
	info := map[string]any{
		"type":    "pci",
		"version": "1.1.0",
		"pci":     map[string]string{"pci-address": p.pciAddress(id)},
	}
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	path := p.infoPath(id)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o444); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	p.mu.Lock()
	p.written[path] = true
	p.mu.Unlock()
	return nil
}

func (p *plugin) Allocate(_ context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	resp := &pluginapi.AllocateResponse{}
	for _, c := range req.ContainerRequests {
		for _, id := range c.DevicesIds {
			if err := p.writeDeviceInfo(id); err != nil {
				return nil, fmt.Errorf("writing the device info of %s: %w", id, err)
			}
		}
		logf("allocated %s", strings.Join(c.DevicesIds, ","))
		resp.ContainerResponses = append(resp.ContainerResponses, &pluginapi.ContainerAllocateResponse{
			Envs: map[string]string{"MULTINET_VF_DEVICES": strings.Join(c.DevicesIds, ",")},
		})
	}
	return resp, nil
}

func (p *plugin) PreStartContainer(context.Context, *pluginapi.PreStartContainerRequest) (*pluginapi.PreStartContainerResponse, error) {
	return &pluginapi.PreStartContainerResponse{}, nil
}

func (p *plugin) removeDeviceInfo() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for path := range p.written {
		_ = os.Remove(path)
	}
}

func inode(path string) uint64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// serve listens on the plugin's socket and registers with the kubelet; it returns when the socket or
// the kubelet's socket changes (the kubelet restarted), or when done closes.
func (p *plugin) serve(pluginDir, endpoint string, done <-chan os.Signal) (stopped bool, err error) {
	socket := filepath.Join(pluginDir, endpoint)
	kubeletSocket := filepath.Join(pluginDir, "kubelet.sock")
	_ = os.Remove(socket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		return false, err
	}
	server := grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(server, p)
	p.stop = make(chan struct{})
	go func() { _ = server.Serve(listener) }()
	defer func() {
		close(p.stop)
		server.Stop()
		_ = os.Remove(socket)
	}()
	kubelet := inode(kubeletSocket)
	if err := register(kubeletSocket, endpoint, p.resource); err != nil {
		return false, err
	}
	logf("registered %s with %d devices (%s) at %s", p.resource, len(p.devices), strings.Join(p.devices, ","), socket)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-done:
			return true, nil
		case <-ticker.C:
			if inode(socket) == 0 || inode(kubeletSocket) != kubelet {
				logf("the kubelet restarted: registering again")
				return false, nil
			}
		}
	}
}

func register(kubeletSocket, endpoint, resource string) error {
	conn, err := grpc.NewClient("unix://"+kubeletSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version:      pluginapi.Version,
		Endpoint:     endpoint,
		ResourceName: resource,
		Options:      &pluginapi.DevicePluginOptions{},
	})
	if err != nil {
		return fmt.Errorf("registering with the kubelet at %s: %w", kubeletSocket, err)
	}
	return nil
}

func main() {
	pluginDir := flag.String("plugin-dir", pluginapi.DevicePluginPath, "the kubelet's device plugin dir (its kubelet.sock)")
	resource := flag.String("resource", "multinet.dev/vf", "the extended resource to advertise")
	devices := flag.String("devices", "", "the device IDs (link names), comma separated")
	deviceInfoDir := flag.String("device-info-dir", "/var/run/k8s.cni.cncf.io/devinfo", "the Device Information Spec's directory")
	node := flag.String("node", "node", "the node's name (in the socket's name)")
	flag.Parse()
	if *devices == "" {
		fmt.Fprintln(os.Stderr, "vf-device-plugin: -devices is required")
		os.Exit(2)
	}
	p := &plugin{
		resource:      *resource,
		devices:       strings.Split(*devices, ","),
		deviceInfoDir: *deviceInfoDir,
		written:       map[string]bool{},
	}
	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGTERM, syscall.SIGINT)
	endpoint := fmt.Sprintf("multinet-vf-%s.sock", *node)
	defer p.removeDeviceInfo()
	for {
		stopped, err := p.serve(*pluginDir, endpoint, done)
		if stopped {
			logf("stopped")
			return
		}
		if err != nil {
			logf("%v; trying again in a second", err)
		}
		select {
		case <-done:
			return
		case <-time.After(time.Second):
		}
	}
}
