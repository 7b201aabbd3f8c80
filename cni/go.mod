module multinet/cni

go 1.22
