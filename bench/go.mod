module github.com/nsrun/nsrun/bench

go 1.26.8

// The module under test, from this repository (never a published version).
replace github.com/nsrun/nsrun => ../

require (
	github.com/containernetworking/plugins v1.10.0
	github.com/nsrun/nsrun v0.0.0-00010101000000-000000000000
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.49.0
)

require (
	github.com/containernetworking/cni v1.3.1 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/google/nftables v0.3.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/mdlayher/netlink v1.11.2 // indirect
	github.com/mdlayher/socket v0.6.1 // indirect
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	golang.org/x/net v0.59.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	sigs.k8s.io/yaml v1.6.0 // indirect
)
