package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// topologyFile writes a two-node topology with a name unique to the test.
func topologyFile(t *testing.T) (file, name string) {
	t.Helper()
	name = fmt.Sprintf("e2e%d", os.Getpid()%100000)
	file = filepath.Join(t.TempDir(), "pair.yaml")
	spec := "name: " + name + "\nnodes:\n  - name: client\n  - name: server\n    hostname: srv\nlinks:\n  - a: client:eth0\n    b: server:eth0\n"
	require.NoError(t, os.WriteFile(file, []byte(spec), 0o644))
	return file, name
}

func TestIntegrationTopology(t *testing.T) {
	testenv.RequirePrivilege(t)
	file, name := topologyFile(t)
	sum := filepath.Join(t.TempDir(), "summary.json")
	r := runNsrun(t, nil, "--json", sum, "--topology", file, "--node", "server", "--", "sh", "-c",
		`hostname; ls /sys/class/net | tr '\n' ' '; echo; echo "$NSRUN_TOPOLOGY $NSRUN_NODES $NSRUN_IPV4_CLIENT"; getent ahostsv4 client | head -1 | cut -d' ' -f1`)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4, r.stdout)
	assert.Equal(t, "srv", lines[0], "the node's host name")
	assert.Equal(t, "eth0 lo", strings.TrimSpace(lines[1]))
	assert.Equal(t, name+" client server 10.200.0.1", lines[2])
	assert.Equal(t, "10.200.0.1", lines[3], "/etc/netns hosts file of the node")

	var s summary
	b, err := os.ReadFile(sum)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &s))
	require.Len(t, s.Namespaces, 2)
	nodes := map[string][]string{}
	for _, n := range s.Namespaces {
		nodes[n.Node] = n.Addresses["eth0"]
		assert.True(t, strings.HasPrefix(n.Name, name+"-"+n.Node+"-"), n.Name)
	}
	assert.Contains(t, nodes["client"], "10.200.0.1/30")
	assert.Contains(t, nodes["server"], "10.200.0.2/30")

	// The other nodes stay reachable by name from inside, for nsrun exec.
	r = runNsrun(t, nil, "--topology", file, "--", "sh", "-c",
		`ip netns list | wc -l; `+nsrunBin+` exec "$NSRUN_NS_SERVER" -- ip -4 -o addr show dev eth0 | awk '{print $4}'`)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "2\n10.200.0.2/30\n", r.stdout)

	r = runNsrun(t, nil, "--topology", file, "--node", "nosuch", "true")
	assert.Equal(t, 125, r.code)
	assert.Contains(t, r.stderr, `nsrun: fixture: no node "nosuch" in topology `+name+` (it has: client, server)`)
}

func TestIntegrationUpDown(t *testing.T) {
	testenv.RequirePrivilege(t)
	file, name := topologyFile(t)
	up := runNsrun(t, nil, "up", file)
	require.Equal(t, 0, up.code, up.stderr)
	t.Cleanup(func() { runNsrun(t, nil, "down", name) })
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(up.stdout), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	assert.Equal(t, name, env["NSRUN_TOPOLOGY"])
	assert.Contains(t, up.stderr, "sudo nsrun down "+name+"\n")

	gc := runNsrun(t, nil, "gc", "--dry-run")
	assert.NotContains(t, gc.stdout, name, "gc leaves a kept topology alone")
	r := runNsrun(t, nil, "exec", env["NSRUN_NS_SERVER"], "--", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "10.200.0.2/30\n", r.stdout)

	down := runNsrun(t, nil, "down", name)
	require.Equal(t, 0, down.code, down.stderr)
	requireNoNamespace(t, runDir(), env["NSRUN_NS_CLIENT"])
	requireNoNamespace(t, runDir(), env["NSRUN_NS_SERVER"])
	again := runNsrun(t, nil, "down", name)
	assert.Equal(t, 125, again.code)
	assert.Contains(t, again.stderr, "nsrun: remove "+name+": nothing of that name was kept")
}

// TestIntegrationUpEmulated: nsrun up of a topology with emulated links
// leaves a process that runs their relays; traffic crosses them (with the
// delay the file gives), gc leaves the topology alone, and down removes it,
// relay namespace and process included.
func TestIntegrationUpEmulated(t *testing.T) {
	testenv.RequirePrivilege(t)
	name := uniqueName("emu")
	file := filepath.Join(t.TempDir(), "emu.yaml")
	spec := "name: " + name + "\nemulate: all\nnodes: [{name: client}, {name: server}]\n" +
		"links:\n  - {a: client, b: server, impair: {delay: 20ms}}\n"
	require.NoError(t, os.WriteFile(file, []byte(spec), 0o644))
	up := runNsrun(t, nil, "up", file)
	require.Equal(t, 0, up.code, up.stderr)
	t.Cleanup(func() { runNsrun(t, nil, "down", name) })
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(up.stdout), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	assert.Contains(t, up.stderr, "relayed by pid")
	assert.Contains(t, up.stderr, "sudo nsrun down "+name+"\n")

	r := runNsrun(t, nil, "exec", env["NSRUN_NS_CLIENT"], "--", "ping", "-c2", "-W5", "server")
	require.Equal(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	m := regexp.MustCompile(`= ([\d.]+)/`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	rtt, _ := strconv.ParseFloat(m[1], 64)
	assert.GreaterOrEqual(t, rtt, 40.0, "20 ms each way, through the relay")

	gc := runNsrun(t, nil, "gc", "--dry-run")
	assert.NotContains(t, gc.stdout, name, "gc leaves a held topology alone")
	again := runNsrun(t, nil, "up", "-v", file)
	assert.Equal(t, 125, again.code)
	assert.Contains(t, again.stderr, "topology "+name+" is already up (held by pid")
	assert.NotContains(t, again.stderr, "created node", "refused before a second one is built")

	names, err := os.ReadDir(nsrun.Dir())
	require.NoError(t, err)
	var ours []string
	for _, e := range names {
		if strings.HasPrefix(e.Name(), name+"-") {
			ours = append(ours, e.Name())
		}
	}
	require.Len(t, ours, 3, "two nodes and the relay's namespace: %v", ours)
	down := runNsrun(t, nil, "down", name)
	require.Equal(t, 0, down.code, down.stderr)
	for _, n := range ours {
		requireNoNamespace(t, runDir(), n)
	}
	reapChildren(t)
}
