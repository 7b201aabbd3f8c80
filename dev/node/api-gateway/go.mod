module multinet.local/api-gateway

go 1.26
