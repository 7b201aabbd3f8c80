module multinet.local/pause

go 1.26
