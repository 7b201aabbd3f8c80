module multinet/spawner

go 1.22
