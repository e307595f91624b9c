package nstest_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/testuser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationMainRunsRootless runs the tests of examples/rootless, whose
// TestMain is nstest.Main, as a normal user: the test binary runs itself
// again rootless, and its test makes two namespaces, a veth pair between
// them and a TCP round trip across it.
func TestIntegrationMainRunsRootless(t *testing.T) {
	u := testuser.Get(t)
	dir := u.Dir(t, false)
	bin := filepath.Join(dir, "rootless.test")
	pkg, err := filepath.Abs("../examples/rootless")
	require.NoError(t, err)
	out, err := exec.Command("go", "test", "-c", "-o", bin, pkg).CombinedOutput()
	require.NoError(t, err, "%s", out)

	blocked := reexec.Detect()
	for _, strict := range []string{"", "1"} {
		cmd := u.Command(dir, []string{"NSTEST_STRICT=" + strict}, bin, "-test.v", "-test.count=1")
		out, err := cmd.CombinedOutput()
		if blocked != nil {
			// Where user namespaces are blocked, the test skips saying
			// why (and fails under NSTEST_STRICT=1).
			assert.Contains(t, string(out), "user namespaces are blocked")
			assert.Equal(t, strict == "1", err != nil, "%s", out)
			continue
		}
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "--- PASS: TestVethRoundTrip")
		assert.Contains(t, string(out), "rootless run: true (uid 0;", "it ran rootless, as root of its user namespace")
		assert.Equal(t, 1, strings.Count(string(out), "=== RUN   TestVethRoundTrip"), "the tests ran once: %s", out)
	}
}
