package nstest_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationTopology(t *testing.T) {
	testenv.RequirePrivilege(t)
	var names []string
	t.Run("inner", func(t *testing.T) {
		f := nstest.Topology(t, fixture.Pair("client", "server"))
		for _, n := range f.Nodes() {
			ns, err := f.Namespace(n)
			require.NoError(t, err)
			names = append(names, ns.Name())
		}
		server, err := f.Namespace("server")
		require.NoError(t, err)
		addr, err := f.IPv6("server")
		require.NoError(t, err)
		ln, err := server.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
		require.NoError(t, err)
		defer ln.Close()
		client, err := f.Namespace("client")
		require.NoError(t, err)
		c, err := client.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		c.Close()
	})
	require.Len(t, names, 2)
	requireNoneLeft(t, names)
	for _, n := range names {
		assert.NoDirExists(t, filepath.Join("/etc/netns", n))
	}
}

func TestIntegrationTopologyFile(t *testing.T) {
	testenv.RequirePrivilege(t)
	f := nstest.TopologyFile(t, filepath.Join("..", "examples", "lan.yaml"))
	assert.Equal(t, []string{"sw", "h1", "h2", "h3", "h4"}, f.Nodes())
	h1, err := f.Namespace("h1")
	require.NoError(t, err)
	out, err := h1.Command("getent", "hosts", "h4").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "h4")
}

// TestIntegrationTopologyFailures: a test that panics with a topology and a
// process inside leaves nothing; an invalid spec fails the test, never skips it.
func TestIntegrationTopologyFailures(t *testing.T) {
	testenv.RequirePrivilege(t)
	names, out, code := runHelperOutput(t, "TestHelperTopologyPanics")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "nstest: the test failed; topology lan at that point:", "a panic is a failure: the state is logged")
	requireNoneLeft(t, names)
	for _, n := range names {
		assert.NoDirExists(t, filepath.Join("/etc/netns", n))
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTopologyInvalid$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	b, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", b)
	assert.Contains(t, string(b), `links[0].b: unknown node "nope"`)
	assert.True(t, strings.Contains(string(b), "--- FAIL"), "%s", b)
}

func TestHelperTopologyPanics(t *testing.T) {
	helperOnly(t)
	f := nstest.Topology(t, fixture.LAN(2))
	for _, n := range f.Nodes() {
		ns, err := f.Namespace(n)
		require.NoError(t, err)
		t.Log("NAMESPACE", ns.Name())
	}
	h1, err := f.Namespace("h1")
	require.NoError(t, err)
	require.NoError(t, h1.Command("sleep", "60").Start())
	panic("on purpose")
}

func TestHelperTopologyInvalid(t *testing.T) {
	helperOnly(t)
	spec := fixture.Pair("a", "b")
	spec.Links[0].B.Node = "nope"
	nstest.Topology(t, spec)
}
