module multinet.local/vf-cni

go 1.26.0
